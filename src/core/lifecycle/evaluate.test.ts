import { describe, expect, it } from 'vitest';
import { DAY_MS, evaluateLifecyclePolicy, summarizeLifecycleDecisions } from './evaluate.js';
import { parseLifecyclePolicy } from './policy.js';
import type { LifecycleDecision, LifecycleImage, LifecyclePolicy } from './types.js';

const NOW = Date.UTC(2025, 5, 30, 12);
const HOUR = DAY_MS / 24;
type Json = Record<string, unknown>;

/** An image pushed `age` ms before NOW, never pulled, 100 bytes unless overridden. */
const img = (digest: string, tags: string[], age: number, over: Partial<LifecycleImage> = {}): LifecycleImage => ({
  digest,
  tags,
  pushedAt: NOW - age,
  lastPulledAt: null,
  sizeBytes: 100,
  ...over,
});
const days = (n: number): number => n * DAY_MS;

const r = (rulePriority: number, selection: Json, action: Json = { type: 'expire' }): Json => ({ rulePriority, selection, action });
const keep = (n: number, sel: Json): Json => ({ ...sel, countType: 'imageCountMoreThan', countNumber: n });
const older = (type: string, n: number, sel: Json): Json => ({ ...sel, countType: type, countUnit: 'days', countNumber: n });
const prefix = (...tagPrefixList: string[]): Json => ({ tagStatus: 'tagged', tagPrefixList });
const pattern = (...tagPatternList: string[]): Json => ({ tagStatus: 'tagged', tagPatternList });
const UNTAGGED = { tagStatus: 'untagged' };
const ANY = { tagStatus: 'any' };
const TRANSITION = { type: 'transition', targetStorageClass: 'archive' };

const policy = (rules: Json[], berth?: Json): LifecyclePolicy =>
  parseLifecyclePolicy(JSON.stringify(berth === undefined ? { rules } : { rules, berth }, null, 2).padEnd(100));
const run = (p: LifecyclePolicy, images: LifecycleImage[]): LifecycleDecision[] => evaluateLifecyclePolicy(p, images, NOW);
const expired = (ds: LifecycleDecision[]): string[] => ds.filter((d) => d.action === 'expire').map((d) => d.digest).sort();

describe('AWS worked examples (ECR user guide, lifecycle policy examples)', () => {
  const abc = [img('A', ['beta-1', 'prod-1'], days(10)), img('B', ['beta-2', 'prod-2'], days(9)), img('C', ['beta-3'], days(8))];

  it('example 1: prod keep 1 then beta keep 1 expires A; B is shielded by rule 1', () => {
    const ds = run(policy([r(1, keep(1, prefix('prod'))), r(2, keep(1, prefix('beta')))]), abc);
    expect(ds).toEqual([{ digest: 'A', rulePriority: 1, action: 'expire' }]);
  });

  it('example 2: beta keep 1 then prod keep 1 expires A and B', () => {
    const ds = run(policy([r(1, keep(1, prefix('beta'))), r(2, keep(1, prefix('prod')))]), abc);
    expect(ds).toEqual([
      { digest: 'A', rulePriority: 1, action: 'expire' },
      { digest: 'B', rulePriority: 1, action: 'expire' },
    ]);
  });

  it('example 3: prefixes [alpha, beta] sinceImagePushed 5 days expires C only', () => {
    const images = [
      img('A', ['alpha-1'], days(12)), img('B', ['beta-1'], days(11)), img('C', ['alpha-2', 'beta-2'], days(10)),
      img('D', ['alpha-3'], days(4)), img('E', ['beta-3'], days(3)), img('F', ['alpha-4', 'beta-4'], days(2)),
    ];
    expect(expired(run(policy([r(1, older('sinceImagePushed', 5, prefix('alpha', 'beta')))]), images))).toEqual(['C']);
  });

  it('example 4: prefixes [alpha, beta] keep 1 expires A and B', () => {
    const images = [img('A', ['alpha-1', 'beta-1', 'gamma-1'], days(10)), img('B', ['alpha-2', 'beta-2'], days(9)), img('C', ['alpha-3', 'beta-3', 'gamma-2'], days(8))];
    expect(expired(run(policy([r(1, keep(1, prefix('alpha', 'beta')))]), images))).toEqual(['A', 'B']);
  });

  it('example 5: any keep 1 expires A, B and C', () => {
    const images = [img('A', ['alpha-1'], days(4)), img('B', ['beta-1'], days(3)), img('C', [], days(2)), img('D', ['alpha-2'], days(1))];
    expect(expired(run(policy([r(1, keep(1, ANY))]), images))).toEqual(['A', 'B', 'C']);
  });

  it('example 6: alpha keep 1, untagged older than 1 day, any keep 1 expires A, B, D (C and E shielded)', () => {
    const images = [
      img('A', ['alpha-1', 'beta-1'], days(4)), img('B', [], days(3)), img('C', ['alpha-2'], days(2)),
      img('D', ['git-hash'], days(1) + HOUR), img('E', [], days(1) - HOUR),
    ];
    const ds = run(policy([r(1, keep(1, prefix('alpha'))), r(2, older('sinceImagePushed', 1, UNTAGGED)), r(3, keep(1, ANY))]), images);
    expect(ds).toEqual([
      { digest: 'A', rulePriority: 1, action: 'expire' },
      { digest: 'B', rulePriority: 2, action: 'expire' },
      { digest: 'D', rulePriority: 3, action: 'expire' },
    ]);
  });
});

describe('evaluateLifecyclePolicy: selection and counting', () => {
  it('counts untagged images only in untagged rules', () => {
    const images = [img('u1', [], days(3)), img('u2', [], days(2)), img('u3', [], days(1)), img('t1', ['v1'], days(9))];
    expect(expired(run(policy([r(1, keep(1, UNTAGGED))]), images))).toEqual(['u1', 'u2']);
  });

  it('lists decisions oldest push first', () => {
    const images = [img('new', [], days(2)), img('old', [], days(9)), img('mid', [], days(5))];
    expect(run(policy([r(1, older('sinceImagePushed', 1, UNTAGGED))]), images).map((d) => d.digest)).toEqual(['old', 'mid', 'new']);
  });

  it('selects since* images strictly older than N days', () => {
    const images = [img('exact', [], days(7)), img('over', [], days(7) + 1)];
    expect(expired(run(policy([r(1, older('sinceImagePushed', 7, UNTAGGED))]), images))).toEqual(['over']);
  });

  it('matches multi-tag images when each prefix matches some tag', () => {
    const images = [img('both', ['rc-1', 'prod'], days(9)), img('one', ['rc-2'], days(8)), img('same', ['prod-rc'], days(7))];
    expect(expired(run(policy([r(1, older('sinceImagePushed', 1, prefix('prod', 'rc')))]), images))).toEqual(['both']);
    expect(expired(run(policy([r(1, older('sinceImagePushed', 1, prefix('prod', 'prod-r')))]), images))).toEqual(['same']);
  });

  it('matches patterns with several wildcards, and several patterns all against some tag', () => {
    const images = [
      img('a', ['app-1.2-rc3-linux'], days(9)), img('b', ['app-1.2-linux'], days(9)), img('c', ['1.2-rc-app'], days(9)),
      img('d', ['release'], days(9)), img('e', ['app-rc', 'x86'], days(9)),
    ];
    expect(expired(run(policy([r(1, older('sinceImagePushed', 1, pattern('app*-*rc*-*')))]), images))).toEqual(['a']);
    expect(expired(run(policy([r(1, older('sinceImagePushed', 1, pattern('*rc*', 'x*')))]), images))).toEqual(['e']);
    expect(expired(run(policy([r(1, older('sinceImagePushed', 1, pattern('release')))]), images))).toEqual(['d']);
  });

  it('shields images a higher rule kept but still counts them in lower rules', () => {
    const images = [img('p-new', ['prod-2'], days(1)), img('p-old', ['prod-1'], days(2)), img('x', ['dev'], days(3)), img('y', ['dev2'], days(4))];
    // Rule 1 keeps both prod images (keep 5); rule 2 (any, keep 2) counts them first, so x and y go.
    const ds = run(policy([r(1, keep(5, prefix('prod'))), r(2, keep(2, ANY))]), images);
    expect(ds).toEqual([
      { digest: 'y', rulePriority: 2, action: 'expire' },
      { digest: 'x', rulePriority: 2, action: 'expire' },
    ]);
  });

  it('sinceImagePulled counts from the last pull, or from the push when never pulled', () => {
    const images = [
      img('never-old', [], days(40)),
      img('never-new', [], days(10)),
      img('pulled-recently', ['v1'], days(90), { lastPulledAt: NOW - days(2) }),
      img('pulled-long-ago', ['v2'], days(90), { lastPulledAt: NOW - days(31) }),
    ];
    const ds = run(policy([r(1, older('sinceImagePulled', 30, ANY), TRANSITION)]), images);
    expect(ds.map((d) => [d.digest, d.action])).toEqual([['pulled-long-ago', 'transition'], ['never-old', 'transition']]);
  });

  it('keeps standard and archive rules to their own storage class', () => {
    const archived = (d: string, inArchive: number | null, age: number) =>
      img(d, [], age, { storageClass: 'archive', transitionedAt: inArchive === null ? null : NOW - inArchive });
    const images = [archived('arch-old', days(100), days(200)), archived('arch-young', days(50), days(200)), archived('arch-unknown', null, days(200)), img('std', [], days(200))];
    const p = policy([
      r(1, older('sinceImagePushed', 10, UNTAGGED), TRANSITION),
      r(2, { ...older('sinceImageTransitioned', 90, UNTAGGED), storageClass: 'archive' }),
    ]);
    expect(run(p, images)).toEqual([
      { digest: 'std', rulePriority: 1, action: 'transition' },
      { digest: 'arch-old', rulePriority: 2, action: 'expire' },
    ]);
  });

  it('ignores repeated digests after the first', () => {
    const images = [img('a', [], days(5)), img('a', [], days(1)), img('b', [], days(3))];
    expect(run(policy([r(1, keep(1, UNTAGGED))]), images)).toEqual([{ digest: 'a', rulePriority: 1, action: 'expire' }]);
  });
});

describe('evaluateLifecyclePolicy: images as units (index children, referrers)', () => {
  const idx = (d: string, tags: string[], age: number) => img(d, tags, age, { isIndex: true });
  const child = (d: string, parents: string[], age: number) => img(d, [], age, { childOf: parents });
  const ref = (d: string, subject: string, age: number) => img(d, [], age, { referrerOf: subject });

  const images = [
    idx('I1', ['v1'], days(10)), child('c1a', ['I1'], days(10)), child('c1b', ['I1'], days(10)),
    idx('I2', ['v2'], days(5)), child('c2a', ['I2'], days(5)), child('shared', ['I1', 'I2'], days(10)),
    ref('sig-I1', 'I1', days(9)), ref('sig-c1a', 'c1a', days(9)), ref('sbom-sig', 'sig-I1', days(9)), ref('sig-I2', 'I2', days(4)),
    img('loose', [], days(1)),
  ];

  it('expires an index with the children no kept index references, and its referrers transitively', () => {
    const ds = run(policy([r(1, keep(1, prefix('v')))]), images);
    expect(ds[0]).toEqual({ digest: 'I1', rulePriority: 1, action: 'expire' });
    expect(expired(ds)).toEqual(['I1', 'c1a', 'c1b', 'sbom-sig', 'sig-I1', 'sig-c1a'].sort());
    expect(ds.find((d) => d.digest === 'c1a')).toEqual({ digest: 'c1a', rulePriority: 1, action: 'expire', via: 'I1' });
    expect(ds.find((d) => d.digest === 'sbom-sig')?.via).toBe('sig-I1');
  });

  it('never selects children or referrers on their own, nor counts them', () => {
    // Untagged keep 1: only "loose" is a stand-alone untagged image, so nothing expires.
    expect(run(policy([r(1, keep(1, UNTAGGED))]), images)).toEqual([]);
    // Every child and referrer is older than 1 day, but their indexes (tagged) are present and kept.
    expect(run(policy([r(1, older('sinceImagePushed', 1, UNTAGGED))]), images)).toEqual([]);
  });

  it('expires a shared child when every parent expires, with the lowest-priority parent decision', () => {
    const ds = run(policy([r(1, older('sinceImagePushed', 7, prefix('v1'))), r(2, older('sinceImagePushed', 1, prefix('v2')))]), images);
    expect(ds.find((d) => d.digest === 'shared')).toEqual({ digest: 'shared', rulePriority: 1, action: 'expire', via: 'I1' });
    expect(expired(ds)).toHaveLength(10);
  });

  it('treats a child whose parents are all absent as an ordinary image; keeps orphan referrers', () => {
    const orphans = [child('orphan', ['gone'], days(5)), ref('orphan-sig', 'gone', days(5))];
    expect(run(policy([r(1, older('sinceImagePushed', 1, UNTAGGED))]), orphans)).toEqual([{ digest: 'orphan', rulePriority: 1, action: 'expire' }]);
  });

  it('transitions children and referrers with a transitioning index', () => {
    const ds = run(policy([r(1, older('sinceImagePushed', 7, prefix('v1')), TRANSITION)]), images);
    expect(ds.filter((d) => d.action === 'transition').map((d) => d.digest).sort()).toEqual(['I1', 'c1a', 'c1b', 'sbom-sig', 'sig-I1', 'sig-c1a'].sort());
  });
});

describe('berth extensions', () => {
  it('protectTagPatterns: protected images are never acted on but still count', () => {
    const images = [img('rel', ['release-1.0'], days(30)), img('latest', ['latest', 'sha-1'], days(20)), img('a', ['sha-2'], days(10)), img('b', ['sha-3'], days(1))];
    const rules = [r(1, keep(2, ANY))];
    expect(expired(run(policy(rules), images))).toEqual(['latest', 'rel']);
    expect(expired(run(policy(rules, { protectTagPatterns: ['release-*', 'latest'] }), images))).toEqual([]);
    expect(expired(run(policy([r(1, keep(1, ANY))], { protectTagPatterns: ['release-*'] }), images))).toEqual(['a', 'latest']);
  });

  it('protectTagPatterns: a protected child stays when its index expires', () => {
    const images = [img('I', ['v1'], days(9)), img('keep-me', ['pinned'], days(9), { childOf: ['I'] }), img('c', [], days(9), { childOf: ['I'] })];
    const ds = run(policy([r(1, older('sinceImagePushed', 1, prefix('v')))], { protectTagPatterns: ['pinned'] }), images);
    expect(expired(ds)).toEqual(['I', 'c']);
  });

  it('allowExpireOnPull: expires images not pulled for N days', () => {
    const images = [img('cold', ['v1'], days(100), { lastPulledAt: NOW - days(60) }), img('warm', ['v2'], days(100), { lastPulledAt: NOW - days(1) })];
    const ds = run(policy([r(1, older('sinceImagePulled', 30, ANY))], { allowExpireOnPull: true }), images);
    expect(ds).toEqual([{ digest: 'cold', rulePriority: 1, action: 'expire' }]);
  });
});

describe('summarizeLifecycleDecisions', () => {
  it('counts images and sums bytes per rule and overall', () => {
    const images = [img('a', [], days(9), { sizeBytes: 10 }), img('b', ['v1'], days(9), { sizeBytes: 20 }), img('c', ['v2'], days(9), { sizeBytes: 40 })];
    const ds: LifecycleDecision[] = [
      { digest: 'a', rulePriority: 2, action: 'expire' },
      { digest: 'b', rulePriority: 1, action: 'transition' },
      { digest: 'c', rulePriority: 2, action: 'expire' },
      { digest: 'unknown', rulePriority: 2, action: 'expire' },
    ];
    expect(summarizeLifecycleDecisions(ds, images)).toEqual({
      rules: [
        { rulePriority: 1, expiringImageCount: 0, transitioningImageCount: 1, expiringBytes: 0, transitioningBytes: 20 },
        { rulePriority: 2, expiringImageCount: 3, transitioningImageCount: 0, expiringBytes: 50, transitioningBytes: 0 },
      ],
      expiringImageCount: 3,
      transitioningImageCount: 1,
      bytesFreed: 50,
      bytesTransitioned: 20,
    });
    expect(summarizeLifecycleDecisions([], images)).toEqual({ rules: [], expiringImageCount: 0, transitioningImageCount: 0, bytesFreed: 0, bytesTransitioned: 0 });
  });
});
