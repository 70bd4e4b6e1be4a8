/**
 * Types of the lifecycle-policy core: the parsed policy (ECR's grammar plus Berth's opt-in
 * `berth` extension block), the image facts the evaluator needs, and its decisions.
 * Everything here is plain data; times are epoch milliseconds.
 */

/** Which images a rule looks at by tag: `tagged` (with a prefix or pattern list), `untagged`, or `any`. */
export type TagStatus = 'tagged' | 'untagged' | 'any';

/** How a rule counts: keep the N newest, or age in days since push, last pull or transition to archive. */
export type CountType = 'imageCountMoreThan' | 'sinceImagePushed' | 'sinceImagePulled' | 'sinceImageTransitioned';

/** ECR's two storage classes. Archived images cannot be pulled. */
export type StorageClass = 'standard' | 'archive';

/** What a rule does to the images it selects. */
export type LifecycleActionType = 'expire' | 'transition';

/** The `selection` block of a rule, with `storageClass` defaulted to `standard`. */
export interface LifecycleSelection {
  readonly tagStatus: TagStatus;
  /** Only with `tagged`: every prefix must be the prefix of at least one tag of the image. */
  readonly tagPrefixList?: readonly string[];
  /** Only with `tagged`: every pattern (`*` = any run of characters) must match at least one tag. */
  readonly tagPatternList?: readonly string[];
  /** The storage class the rule selects from (`standard` when omitted in the text). */
  readonly storageClass: StorageClass;
  readonly countType: CountType;
  /** `days`, present exactly when `countType` is one of the `since*` types. */
  readonly countUnit?: 'days';
  readonly countNumber: number;
}

/** The `action` block of a rule. `targetStorageClass` is present exactly for `transition`. */
export interface LifecycleRuleAction {
  readonly type: LifecycleActionType;
  readonly targetStorageClass?: 'archive';
}

/** One validated rule. */
export interface LifecycleRule {
  readonly rulePriority: number;
  readonly description?: string;
  readonly selection: LifecycleSelection;
  readonly action: LifecycleRuleAction;
}

/**
 * Berth's opt-in extensions, from the top-level `berth` key (a key ECR itself refuses, so a
 * policy written for ECR never turns them on).
 */
export interface LifecycleExtensions {
  /** Images with at least one tag matching one of these patterns are never acted on by any rule. */
  readonly protectTagPatterns: readonly string[];
  /** Allows `sinceImagePulled` rules with action `expire` (ECR only allows `transition`). */
  readonly allowExpireOnPull: boolean;
}

/** A validated lifecycle policy. `rules` keep the order of the text; evaluation orders by priority. */
export interface LifecyclePolicy {
  readonly rules: readonly LifecycleRule[];
  /** Present only when the text has a `berth` block. */
  readonly berth?: LifecycleExtensions;
}

/** The facts about one image (manifest) that the evaluator needs. */
export interface LifecycleImage {
  readonly digest: string;
  readonly tags: readonly string[];
  readonly pushedAt: number;
  /** Last recorded pull, or null when never pulled. */
  readonly lastPulledAt: number | null;
  /** `standard` when omitted. */
  readonly storageClass?: StorageClass;
  /** When the image moved to archive; only meaningful for archived images. */
  readonly transitionedAt?: number | null;
  readonly sizeBytes: number;
  /** Informational: the manifest is an image index / manifest list. Units are built from `childOf`. */
  readonly isIndex?: boolean;
  /** Subject digest when this manifest is a referrer (signature, SBOM, attestation...). */
  readonly referrerOf?: string | null;
  /** Digests of the indexes that list this manifest as a child (platform manifest). */
  readonly childOf?: readonly string[];
}

/** One action the policy takes on one image. */
export interface LifecycleDecision {
  readonly digest: string;
  /** The rule that decided; for images acted on with their unit, the rule that decided the unit. */
  readonly rulePriority: number;
  readonly action: LifecycleActionType;
  /** Set when the image is acted on with its unit: the index or subject digest that carried it along. */
  readonly via?: string;
}
