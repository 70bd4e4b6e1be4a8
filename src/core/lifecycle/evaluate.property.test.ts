import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DAY_MS, evaluateLifecyclePolicy } from './evaluate.js';
import { parseLifecyclePolicy } from './policy.js';
import { anyTagMatchesAnyPattern, matchesTagRequirements } from './tags.js';
import type { LifecycleImage, LifecyclePolicy } from './types.js';

const NOW = Date.UTC(2025, 5, 30);
const TAGS = ['a1', 'a2', 'ab', 'b1', 'b2', 'rc-1', 'prod', 'prod-rc'];
type Json = Record<string, unknown>;

const taggedSel: fc.Arbitrary<Json> = fc.oneof(
  fc.subarray(['a', 'b', 'ab', 'rc', 'prod'], { minLength: 1, maxLength: 2 }).map((tagPrefixList) => ({ tagStatus: 'tagged', tagPrefixList })),
  fc.subarray(['a*', '*1', '*b*', 'rc-*', '*', 'prod*rc', 'a1'], { minLength: 1, maxLength: 2 }).map((tagPatternList) => ({ tagStatus: 'tagged', tagPatternList })),
);
const tagSel: fc.Arbitrary<Json> = fc.oneof(taggedSel, fc.constant({ tagStatus: 'untagged' }), fc.constant({ tagStatus: 'any' }));
const countSel: fc.Arbitrary<Json> = fc.oneof(
  fc.integer({ min: 1, max: 5 }).map((countNumber) => ({ countType: 'imageCountMoreThan', countNumber })),
  fc.record({ countType: fc.constantFrom('sinceImagePushed', 'sinceImagePulled'), countNumber: fc.integer({ min: 1, max: 40 }) })
    .map((c) => ({ ...c, countUnit: 'days' })),
);
const actionArb = fc.constantFrom<Json>({ type: 'expire' }, { type: 'transition', targetStorageClass: 'archive' });
const ruleSpec = fc.record({ tags: tagSel, count: countSel, action: actionArb });

/** Valid policies: unique priorities, at most one untagged rule, the any rule (if any) last. */
const policyArb: fc.Arbitrary<LifecyclePolicy> = fc
  .record({
    specs: fc.array(ruleSpec, { minLength: 1, maxLength: 5 }),
    priorities: fc.uniqueArray(fc.integer({ min: 1, max: 50 }), { minLength: 5, maxLength: 5 }),
    protect: fc.option(fc.subarray(['prod*', 'a2', '*rc*'], { minLength: 1 }), { nil: undefined }),
  })
  .map(({ specs, priorities, protect }) => {
    let untaggedSeen = false;
    const rules = specs
      .map((s, i) => ({ rulePriority: priorities[i] ?? i + 1, selection: { ...s.tags, ...s.count }, action: s.action }))
      .filter((rl) => {
        const status = rl.selection['tagStatus'];
        if (status === 'untagged') return untaggedSeen ? false : (untaggedSeen = true);
        return status !== 'any' || rl.rulePriority === Math.max(...priorities.slice(0, specs.length));
      });
    if (rules.length === 0) rules.push({ rulePriority: 1, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 2 }, action: { type: 'expire' } });
    const berth = { allowExpireOnPull: true, ...(protect === undefined ? {} : { protectTagPatterns: protect }) };
    return parseLifecyclePolicy(JSON.stringify({ rules, berth }).padEnd(100));
  });

const plainImage = fc.record({
  tags: fc.subarray(TAGS, { maxLength: 3 }),
  pushedAt: fc.integer({ min: NOW - 60 * DAY_MS, max: NOW }),
  pulledAgo: fc.option(fc.integer({ min: 0, max: 60 * DAY_MS }), { nil: null }),
  sizeBytes: fc.nat(1000),
});
const imagesArb = (max: number): fc.Arbitrary<LifecycleImage[]> =>
  fc.array(plainImage, { maxLength: max }).map((xs) =>
    xs.map((x, i) => ({ digest: `d${i}`, tags: x.tags, pushedAt: x.pushedAt, lastPulledAt: x.pulledAgo === null ? null : NOW - x.pulledAgo, sizeBytes: x.sizeBytes })),
  );
/** Images where some are children of earlier ones (indexes) or referrers of earlier ones. */
const unitImagesArb: fc.Arbitrary<LifecycleImage[]> = fc
  .tuple(imagesArb(25), fc.array(fc.record({ kind: fc.constantFrom('none', 'child', 'ref'), links: fc.array(fc.nat(), { minLength: 1, maxLength: 2 }) }), { minLength: 25, maxLength: 25 }))
  .map(([images, links]) =>
    images.map((image, j) => {
      const link = links[j];
      if (j === 0 || link === undefined || link.kind === 'none') return image;
      const targets = link.links.map((n) => `d${n % j}`);
      return link.kind === 'child' ? { ...image, tags: [], childOf: targets } : { ...image, tags: [], referrerOf: targets[0] ?? null };
    }),
  );

describe('evaluateLifecyclePolicy properties', () => {
  it('(a) never acts on an image that a higher-priority rule\'s tagging requirements matched, nor on a protected one', () => {
    fc.assert(
      fc.property(policyArb, imagesArb(30), (policy, images) => {
        const byDigest = new Map(images.map((i) => [i.digest, i]));
        for (const d of evaluateLifecyclePolicy(policy, images, NOW)) {
          const image = byDigest.get(d.digest);
          expect(image).toBeDefined();
          if (image === undefined) continue;
          expect(anyTagMatchesAnyPattern(policy.berth?.protectTagPatterns ?? [], image.tags)).toBe(false);
          const own = policy.rules.find((r) => r.rulePriority === d.rulePriority);
          expect(own && matchesTagRequirements(own.selection, image.tags)).toBe(true);
          for (const higher of policy.rules.filter((r) => r.rulePriority < d.rulePriority)) {
            expect(matchesTagRequirements(higher.selection, image.tags)).toBe(false);
          }
        }
      }),
      { numRuns: 400 },
    );
  });

  it('(b) gives each image at most one decision, also with index children and referrers', () => {
    fc.assert(
      fc.property(policyArb, unitImagesArb, (policy, images) => {
        const decisions = evaluateLifecyclePolicy(policy, images, NOW);
        const digests = decisions.map((d) => d.digest);
        expect(new Set(digests).size).toBe(digests.length);
        const known = new Set(images.map((i) => i.digest));
        const decided = new Set<string>();
        for (const d of decisions) {
          expect(known.has(d.digest)).toBe(true);
          if (d.via !== undefined) expect(decided.has(d.via)).toBe(true); // carried images follow their unit
          decided.add(d.digest);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('(c) a single imageCountMoreThan rule expires exactly max(0, matching - N) images, the oldest', () => {
    const distinctTimes = fc.uniqueArray(fc.integer({ min: 0, max: 1_000_000 }), { maxLength: 30 });
    fc.assert(
      fc.property(tagSel, fc.integer({ min: 1, max: 8 }), distinctTimes, fc.array(fc.subarray(TAGS, { maxLength: 3 }), { minLength: 30, maxLength: 30 }), (tags, n, times, tagSets) => {
        const rule = { rulePriority: 1, selection: { ...tags, countType: 'imageCountMoreThan', countNumber: n }, action: { type: 'expire' } };
        const policy = parseLifecyclePolicy(JSON.stringify({ rules: [rule] }).padEnd(100));
        const images = times.map((t, i) => ({ digest: `d${i}`, tags: tagSets[i] ?? [], pushedAt: NOW - t, lastPulledAt: null, sizeBytes: 1 }));
        const matching = images.filter((i) => matchesTagRequirements(policy.rules[0]!.selection, i.tags));
        const gone = new Set(evaluateLifecyclePolicy(policy, images, NOW).map((d) => d.digest));
        expect(gone.size).toBe(Math.max(0, matching.length - n));
        const expiredTimes = matching.filter((i) => gone.has(i.digest)).map((i) => i.pushedAt);
        const keptTimes = matching.filter((i) => !gone.has(i.digest)).map((i) => i.pushedAt);
        expect(expiredTimes.length).toBe(gone.size);
        if (expiredTimes.length > 0 && keptTimes.length > 0) expect(Math.max(...expiredTimes)).toBeLessThan(Math.min(...keptTimes));
      }),
      { numRuns: 400 },
    );
  });

  it('(d) does not depend on the order of the images', () => {
    fc.assert(
      fc.property(policyArb, unitImagesArb, (policy, images) => {
        const key = (xs: readonly { digest: string }[]) => JSON.stringify([...xs].sort((a, b) => (a.digest < b.digest ? -1 : 1)));
        expect(key(evaluateLifecyclePolicy(policy, [...images].reverse(), NOW))).toBe(key(evaluateLifecyclePolicy(policy, images, NOW)));
      }),
      { numRuns: 200 },
    );
  });
});
