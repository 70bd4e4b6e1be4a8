/**
 * The audit trail: every control-plane call (ECR, IAM, STS), every /v2/ write and image read,
 * and every denied or unauthenticated request, recorded in the shape of a CloudTrail event.
 * Events are buffered and written in one transaction per batch (every 250 ms or 200 events),
 * so the pull path does not pay a commit per request; `flush` (called on shutdown) writes
 * what is pending. Secrets never reach an event: request parameters pass through `redact`.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { MetadataStore } from '../../metadata/types.js';
import type { Principal } from '../identity/principal.js';

export interface CloudTrailEvent {
  eventVersion: '1.08';
  eventTime: string;
  eventSource: string;
  eventName: string;
  awsRegion: string;
  sourceIPAddress: string;
  userAgent: string;
  userIdentity: {
    type: 'Root' | 'IAMUser' | 'AssumedRole' | 'AWSAccount' | 'Unknown';
    principalId?: string;
    arn?: string;
    accountId?: string;
    accessKeyId?: string;
    userName?: string;
  };
  requestParameters: Record<string, unknown> | null;
  errorCode?: string;
  errorMessage?: string;
  requestID: string;
  eventID: string;
  readOnly: boolean;
  eventType: 'AwsApiCall';
  recipientAccountId: string;
}

export interface AuditInput {
  source: 'ecr' | 'iam' | 'sts';
  eventName: string;
  principal: Principal | null;
  sourceIp: string;
  userAgent?: string;
  requestId: string;
  params?: Record<string, unknown>;
  errorCode?: string;
  errorMessage?: string;
  readOnly: boolean;
}

const SECRET_KEY = /secret|password|token|credential|layerPartBlob|privateKey/i;
const MAX_STRING = 2048;

/** Copies request parameters without secrets and with long values cut. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return '…';
  if (typeof value === 'string') return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…(${value.length} chars)` : value;
  if (Array.isArray(value)) return value.slice(0, 100).map((v) => redact(v, depth + 1));
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? 'HIDDEN_DUE_TO_SECURITY_REASONS' : redact(v, depth + 1);
    return out;
  }
  return value;
}

function identityOf(p: Principal | null, accountId: string): CloudTrailEvent['userIdentity'] {
  if (!p || p.kind === 'anonymous') return { type: 'Unknown' };
  const type = p.kind === 'root' ? 'Root' : p.kind === 'user' ? 'IAMUser' : 'AssumedRole';
  return {
    type,
    arn: p.arn,
    accountId,
    ...(p.userId ? { principalId: p.userId } : {}),
    ...(p.accessKeyId ? { accessKeyId: p.accessKeyId } : {}),
    ...(p.userName ? { userName: p.userName } : {}),
  };
}

export class AuditTrail {
  private pending: { at: number; actor: string; action: string; repository?: string; detail: CloudTrailEvent }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly meta: MetadataStore,
    private readonly account: { id: string; region: string },
    private readonly now: () => number,
    private readonly log: Logger,
  ) {}

  record(e: AuditInput): void {
    const at = this.now();
    const params = e.params === undefined ? null : (redact(e.params) as Record<string, unknown>);
    const event: CloudTrailEvent = {
      eventVersion: '1.08',
      eventTime: new Date(at).toISOString(),
      eventSource: `${e.source}.amazonaws.com`,
      eventName: e.eventName,
      awsRegion: this.account.region,
      sourceIPAddress: e.sourceIp,
      userAgent: e.userAgent ?? '',
      userIdentity: identityOf(e.principal, this.account.id),
      requestParameters: params,
      ...(e.errorCode ? { errorCode: e.errorCode } : {}),
      ...(e.errorMessage ? { errorMessage: e.errorMessage.slice(0, 1024) } : {}),
      requestID: e.requestId,
      eventID: randomUUID(),
      readOnly: e.readOnly,
      eventType: 'AwsApiCall',
      recipientAccountId: this.account.id,
    };
    const repository = typeof params?.repositoryName === 'string' ? params.repositoryName : undefined;
    this.pending.push({ at, actor: e.principal?.arn ?? 'anonymous', action: e.eventName, ...(repository ? { repository } : {}), detail: event });
    if (this.pending.length >= 200) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), 250);
  }

  /** Writes what is pending; resolves when it is stored. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() =>
      this.meta
        .tx(async (tx) => {
          for (const e of batch) await tx.audit.record(e);
        })
        .catch((err: unknown) => this.log.error({ err, events: batch.length }, 'could not write audit events')),
    );
    return this.flushing;
  }
}
