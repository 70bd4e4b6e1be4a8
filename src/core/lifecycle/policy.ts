/**
 * Parser and validator for lifecycle policy text, ECR's grammar exactly (PutLifecyclePolicy,
 * StartLifecyclePolicyPreview): `{ "rules": [ { rulePriority, description?, selection, action } ] }`.
 * Every failure throws `BerthError('INVALID_PARAMETER')` with ECR's message shape (see schema.ts).
 *
 * Berth extensions (opt-in, beyond ECR). They live under the top-level key `berth`, which ECR's
 * schema refuses as an unknown property, so a policy that ECR accepts never turns them on and a
 * policy that uses them is never silently misread by ECR:
 *
 *     "berth": { "protectTagPatterns": ["release-*", "latest"], "allowExpireOnPull": true }
 *
 * - `protectTagPatterns` (non-empty list of `tagPatternList`-style patterns, at most 4 `*` each):
 *   an image with at least one tag matching at least one pattern is never acted on by any rule,
 *   nor carried along with an expiring index. Like an image shielded by a higher-priority ECR
 *   rule, it still counts in the totals of `imageCountMoreThan` rules.
 * - `allowExpireOnPull` (boolean, default false): accepts `sinceImagePulled` with action
 *   `expire`. Without it, as in ECR, `sinceImagePulled` only pairs with `transition` to archive.
 *
 * Choices where ECR's documentation leaves room: the "`any` rule last" and "one `untagged`
 * rule" constraints apply per storage class, as ECR's own messages say ("... per storage
 * class"); `sinceImageTransitioned` expiry needs at least 90 days (ECR's archive minimum
 * storage duration); `rulePriority` and `countNumber` are capped at 2^31-1 (a Java int);
 * ECR's "unique set of tag prefixes" sentence is not enforced (a repeated selection is
 * harmless: the later rule is fully shielded by the earlier one).
 */
import { boolean, fail, integer, jsonType, object, oneOf, string, stringList } from './schema.js';
import { MAX_PATTERN_WILDCARDS, countWildcards } from './tags.js';
import type {
  CountType,
  LifecycleExtensions,
  LifecyclePolicy,
  LifecycleRule,
  LifecycleRuleAction,
  LifecycleSelection,
  StorageClass,
  TagStatus,
} from './types.js';

/** Length limits of ECR's `LifecyclePolicyText` shape (service-2.json). */
export const LIFECYCLE_POLICY_TEXT_MIN = 100;
export const LIFECYCLE_POLICY_TEXT_MAX = 30720;
/** Minimum days an archived image stays before a policy may expire it. */
export const ARCHIVE_MINIMUM_DAYS = 90;

const TAG_STATUSES: readonly TagStatus[] = ['tagged', 'untagged', 'any'];
const COUNT_TYPES: readonly CountType[] = [
  'imageCountMoreThan',
  'sinceImagePushed',
  'sinceImagePulled',
  'sinceImageTransitioned',
];
const STORAGE_CLASSES: readonly StorageClass[] = ['standard', 'archive'];

/**
 * Parses and validates lifecycle policy text.
 * @throws BerthError INVALID_PARAMETER with ECR's message when the text is not a valid policy.
 */
export function parseLifecyclePolicy(text: string): LifecyclePolicy {
  if (typeof text !== 'string') {
    fail('', `instance type (${jsonType(text)}) does not match any allowed primitive type (allowed: ["string"])`);
  }
  if (text.length < LIFECYCLE_POLICY_TEXT_MIN) {
    fail('', `string is too short (length: ${text.length}, required minimum: ${LIFECYCLE_POLICY_TEXT_MIN})`);
  }
  if (text.length > LIFECYCLE_POLICY_TEXT_MAX) {
    fail('', `string is too long (length: ${text.length}, maximum allowed: ${LIFECYCLE_POLICY_TEXT_MAX})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    fail('', 'Could not map policyString into LifecyclePolicy.');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    fail('', 'Could not map policyString into LifecyclePolicy.');
  }
  const root = object(doc, '', ['rules'], ['berth']);
  const berth = root['berth'] === undefined ? undefined : parseExtensions(root['berth']);
  const rawRules = root['rules'];
  if (!Array.isArray(rawRules)) {
    fail('rules', `instance type (${jsonType(rawRules)}) does not match any allowed primitive type (allowed: ["array"])`);
  }
  if (rawRules.length === 0) {
    fail('rules', 'array is too short: must have at least 1 elements but instance has 0 elements');
  }
  const rules = rawRules.map((raw, i) => parseRule(raw, `rules[${i}]`, berth?.allowExpireOnPull ?? false));
  checkAcrossRules(rules);
  return berth === undefined ? { rules } : { rules, berth };
}

function parseExtensions(raw: unknown): LifecycleExtensions {
  const ext = object(raw, 'berth', [], ['protectTagPatterns', 'allowExpireOnPull']);
  const patterns = ext['protectTagPatterns'];
  const allow = ext['allowExpireOnPull'];
  const protectTagPatterns = patterns === undefined ? [] : patternList(patterns, 'berth.protectTagPatterns');
  const allowExpireOnPull = allow === undefined ? false : boolean(allow, 'berth.allowExpireOnPull');
  return { protectTagPatterns, allowExpireOnPull };
}

function patternList(raw: unknown, where: string): string[] {
  const list = stringList(raw, where);
  list.forEach((p, i) => {
    const n = countWildcards(p);
    if (n > MAX_PATTERN_WILDCARDS) {
      fail(`${where}[${i}]`, `tag pattern has more than ${MAX_PATTERN_WILDCARDS} wildcards (*) (found: ${n})`);
    }
  });
  return list;
}

function parseRule(raw: unknown, where: string, allowExpireOnPull: boolean): LifecycleRule {
  const rule = object(raw, where, ['rulePriority', 'selection', 'action'], ['description']);
  const rulePriority = integer(rule['rulePriority'], `${where}.rulePriority`, 1);
  const rawDescription = rule['description'];
  const description = rawDescription === undefined ? undefined : string(rawDescription, `${where}.description`);
  const selection = parseSelection(rule['selection'], `${where}.selection`);
  const action = parseAction(rule['action'], `${where}.action`);
  if (action.type === 'transition' && selection.storageClass === 'archive') {
    fail(`${where}.action.type`, 'images in storageClass archive can only be expired, not transitioned');
  }
  if (selection.countType === 'sinceImagePulled' && action.type === 'expire' && !allowExpireOnPull) {
    fail(
      `${where}.action.type`,
      'countType sinceImagePulled can only be used with action type transition (targetStorageClass archive); ' +
        'set "berth": { "allowExpireOnPull": true } to expire on last pull',
    );
  }
  return { rulePriority, ...(description === undefined ? {} : { description }), selection, action };
}

function parseSelection(raw: unknown, where: string): LifecycleSelection {
  const sel = object(
    raw,
    where,
    ['tagStatus', 'countType', 'countNumber'],
    ['tagPrefixList', 'tagPatternList', 'storageClass', 'countUnit'],
  );
  const tagStatus = oneOf(sel['tagStatus'], `${where}.tagStatus`, TAG_STATUSES);
  const countType = oneOf(sel['countType'], `${where}.countType`, COUNT_TYPES);
  const countNumber = integer(sel['countNumber'], `${where}.countNumber`, 1);

  const hasPrefixes = sel['tagPrefixList'] !== undefined;
  const hasPatterns = sel['tagPatternList'] !== undefined;
  if (tagStatus === 'tagged') {
    if (hasPrefixes && hasPatterns) fail(where, 'tagPrefixList and tagPatternList cannot both be specified');
    if (!hasPrefixes && !hasPatterns) fail(where, 'tagPrefixList or tagPatternList is required when tagStatus is tagged');
  } else if (hasPrefixes || hasPatterns) {
    const key = hasPrefixes ? 'tagPrefixList' : 'tagPatternList';
    fail(`${where}.${key}`, `${key} can only be specified when tagStatus is tagged (found: ${tagStatus})`);
  }
  const tagPrefixList = hasPrefixes ? stringList(sel['tagPrefixList'], `${where}.tagPrefixList`) : undefined;
  const tagPatternList = hasPatterns ? patternList(sel['tagPatternList'], `${where}.tagPatternList`) : undefined;

  const since = countType !== 'imageCountMoreThan';
  let countUnit: 'days' | undefined;
  if (sel['countUnit'] === undefined) {
    if (since) fail(where, `object has missing required properties (["countUnit"])`);
  } else {
    if (!since) fail(`${where}.countUnit`, 'countUnit cannot be specified when countType is imageCountMoreThan');
    countUnit = oneOf(sel['countUnit'], `${where}.countUnit`, ['days'] as const);
  }

  let storageClass: StorageClass = 'standard';
  if (sel['storageClass'] !== undefined) {
    storageClass = oneOf(sel['storageClass'], `${where}.storageClass`, STORAGE_CLASSES);
  }
  if (countType === 'sinceImageTransitioned') {
    if (sel['storageClass'] === undefined) fail(where, 'object has missing required properties (["storageClass"])');
    if (storageClass !== 'archive') {
      fail(`${where}.storageClass`, 'storageClass must be archive when countType is sinceImageTransitioned');
    }
    if (countNumber < ARCHIVE_MINIMUM_DAYS) {
      fail(
        `${where}.countNumber`,
        `archived images cannot be expired before ${ARCHIVE_MINIMUM_DAYS} days (minimum: ${ARCHIVE_MINIMUM_DAYS}, found: ${countNumber})`,
      );
    }
  } else if (storageClass === 'archive') {
    fail(
      `${where}.storageClass`,
      `storageClass archive can only be used with countType sinceImageTransitioned (found: ${countType})`,
    );
  }

  return {
    tagStatus,
    ...(tagPrefixList === undefined ? {} : { tagPrefixList }),
    ...(tagPatternList === undefined ? {} : { tagPatternList }),
    storageClass,
    countType,
    ...(countUnit === undefined ? {} : { countUnit }),
    countNumber,
  };
}

function parseAction(raw: unknown, where: string): LifecycleRuleAction {
  const action = object(raw, where, ['type'], ['targetStorageClass']);
  const type = oneOf(action['type'], `${where}.type`, ['expire', 'transition'] as const);
  if (type === 'expire') {
    if (action['targetStorageClass'] !== undefined) {
      fail(`${where}.targetStorageClass`, 'targetStorageClass can only be specified when type is transition');
    }
    return { type };
  }
  if (action['targetStorageClass'] === undefined) {
    fail(where, 'object has missing required properties (["targetStorageClass"])');
  }
  const targetStorageClass = oneOf(action['targetStorageClass'], `${where}.targetStorageClass`, ['archive'] as const);
  return { type, targetStorageClass };
}

/** Constraints between rules: unique priorities; per storage class one `untagged` rule and `any` last. */
function checkAcrossRules(rules: readonly LifecycleRule[]): void {
  const seen = new Map<number, number>();
  rules.forEach((r, i) => {
    const other = seen.get(r.rulePriority);
    if (other !== undefined) {
      fail(`rules[${i}].rulePriority`, `rulePriority ${r.rulePriority} is not unique (also used by rules[${other}])`);
    }
    seen.set(r.rulePriority, i);
  });
  for (const storageClass of STORAGE_CLASSES) {
    const inClass = rules.map((r, i) => ({ r, i })).filter(({ r }) => r.selection.storageClass === storageClass);
    const untagged = inClass.filter(({ r }) => r.selection.tagStatus === 'untagged');
    if (untagged.length > 1) {
      const [first, second] = [untagged[0]?.i, untagged[1]?.i];
      fail(
        `rules[${second}].selection.tagStatus`,
        `Only one rule can select untagged images per storage class (rules[${first}] and rules[${second}], ` +
          `storageClass ${storageClass})`,
      );
    }
    const highest = Math.max(...inClass.map(({ r }) => r.rulePriority));
    for (const { r, i } of inClass) {
      if (r.selection.tagStatus === 'any' && r.rulePriority !== highest) {
        fail(
          `rules[${i}].rulePriority`,
          `Rule for tagStatus=any must have the highest rulePriority per storage class ` +
            `(found: ${r.rulePriority}, highest in storageClass ${storageClass}: ${highest})`,
        );
      }
    }
  }
}
