import { describe, expect, it } from 'vitest';
import { BerthError } from '../errors.js';
import { parseLifecyclePolicy } from './policy.js';

type Json = Record<string, unknown>;

const sel = (over: Json = {}): Json => ({ tagStatus: 'untagged', countType: 'imageCountMoreThan', countNumber: 5, ...over });
const rule = (over: Json = {}, selection: Json = {}): Json => ({
  rulePriority: 1,
  selection: sel(selection),
  action: { type: 'expire' },
  ...over,
});
const text = (doc: unknown): string => JSON.stringify(doc, null, 2).padEnd(100, ' ');
const ok = (...rules: Json[]) => parseLifecyclePolicy(text({ rules }));

function expectInvalid(policyText: string, detail: string): void {
  let caught: unknown;
  try {
    parseLifecyclePolicy(policyText);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(BerthError);
  expect((caught as BerthError).code).toBe('INVALID_PARAMETER');
  expect((caught as BerthError).message).toBe(
    `Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: ${detail}'`,
  );
}
const bad = (rules: unknown, detail: string, extra: Json = {}) => expectInvalid(text({ rules, ...extra }), detail);
const badRule = (r: Json, detail: string) => bad([r], detail);
const badSel = (selection: Json, detail: string, action: Json = { type: 'expire' }) =>
  bad([{ rulePriority: 1, selection, action }], detail);

describe('parseLifecyclePolicy: valid policies', () => {
  it('parses a rule, defaults storageClass to standard and keeps the description', () => {
    const p = ok(rule({ description: 'keep 5 untagged' }));
    expect(p).toEqual({
      rules: [
        {
          rulePriority: 1,
          description: 'keep 5 untagged',
          selection: { tagStatus: 'untagged', storageClass: 'standard', countType: 'imageCountMoreThan', countNumber: 5 },
          action: { type: 'expire' },
        },
      ],
    });
  });

  it('parses AWS template fields: tagPrefixList, tagPatternList, since* with days', () => {
    const p = ok(
      rule({ rulePriority: 3 }, { tagStatus: 'tagged', tagPatternList: ['prod*'], countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 }),
      rule({ rulePriority: 1 }, { tagStatus: 'tagged', tagPrefixList: ['alpha', 'beta'] }),
    );
    expect(p.rules.map((r) => r.rulePriority)).toEqual([3, 1]); // text order kept
    expect(p.rules[0]?.selection).toMatchObject({ tagPatternList: ['prod*'], countUnit: 'days', countNumber: 14 });
    expect(p.rules[1]?.selection.tagPrefixList).toEqual(['alpha', 'beta']);
    expect(p.berth).toBeUndefined();
  });

  it('accepts the archive pairing: sinceImagePulled -> transition, archived sinceImageTransitioned -> expire', () => {
    const p = ok(
      rule({ rulePriority: 1, action: { type: 'transition', targetStorageClass: 'archive' } }, { tagStatus: 'any', countType: 'sinceImagePulled', countUnit: 'days', countNumber: 30 }),
      rule({ rulePriority: 2 }, { tagStatus: 'any', storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 90 }),
    );
    expect(p.rules[0]?.action).toEqual({ type: 'transition', targetStorageClass: 'archive' });
    expect(p.rules[1]?.selection.storageClass).toBe('archive');
  });

  it('applies the any-last and one-untagged constraints per storage class', () => {
    const archived = { storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 100 };
    expect(() =>
      ok(rule({ rulePriority: 1 }), rule({ rulePriority: 2 }, archived), rule({ rulePriority: 3 }, { tagStatus: 'any' })),
    ).not.toThrow();
  });

  it('accepts exactly 4 wildcards, and policy text of exactly 100 and 30720 characters', () => {
    expect(() => ok(rule({}, { tagStatus: 'tagged', tagPatternList: ['*a*b*c*'] }))).not.toThrow();
    const compact = JSON.stringify({ rules: [rule()] });
    expect(() => parseLifecyclePolicy(compact.padEnd(100, ' '))).not.toThrow();
    expect(() => parseLifecyclePolicy(compact.padEnd(30720, ' '))).not.toThrow();
  });

  it('parses the berth extension block', () => {
    const p = parseLifecyclePolicy(text({ rules: [rule()], berth: { protectTagPatterns: ['release-*', 'latest'], allowExpireOnPull: true } }));
    expect(p.berth).toEqual({ protectTagPatterns: ['release-*', 'latest'], allowExpireOnPull: true });
    expect(parseLifecyclePolicy(text({ rules: [rule()], berth: {} })).berth).toEqual({ protectTagPatterns: [], allowExpireOnPull: false });
  });

  it('allows sinceImagePulled with expire only under berth.allowExpireOnPull', () => {
    const r = rule({}, { countType: 'sinceImagePulled', countUnit: 'days', countNumber: 30 });
    expect(parseLifecyclePolicy(text({ rules: [r], berth: { allowExpireOnPull: true } })).rules[0]?.action.type).toBe('expire');
  });
});

describe('parseLifecyclePolicy: the text', () => {
  it('refuses text shorter than 100 characters', () =>
    expectInvalid('{"rules":[]}', 'string is too short (length: 12, required minimum: 100)'));
  it('refuses text longer than 30720 characters', () =>
    expectInvalid(text({ rules: [rule()] }).padEnd(30721, ' '), 'string is too long (length: 30721, maximum allowed: 30720)'));
  it('refuses text that is not JSON', () =>
    expectInvalid('not json at all '.repeat(10), 'Could not map policyString into LifecyclePolicy.'));
  it('refuses JSON that is not an object', () => {
    expectInvalid(text([rule()]), 'Could not map policyString into LifecyclePolicy.');
    expectInvalid(JSON.stringify('x'.repeat(120)), 'Could not map policyString into LifecyclePolicy.');
  });
  it('requires rules', () => expectInvalid(text({ no_rules: 'x'.repeat(100) }), 'object has missing required properties (["rules"])'));
  it('refuses unknown top-level properties', () =>
    bad([rule()], 'object instance has properties which are not allowed by the schema: (["extra","other"])', { other: 1, extra: 2 }));
  it('requires rules to be an array', () =>
    bad(rule(), 'rules: instance type (object) does not match any allowed primitive type (allowed: ["array"])'));
  it('requires at least one rule', () =>
    bad([], 'rules: array is too short: must have at least 1 elements but instance has 0 elements'));
});

describe('parseLifecyclePolicy: rules', () => {
  it('requires rules to be objects', () =>
    bad(['x'.repeat(100)], 'rules[0]: instance type (string) does not match any allowed primitive type (allowed: ["object"])'));
  it('reports every missing rule property at once', () =>
    badRule({ rulePriority: 1, description: 'x'.repeat(100) }, 'rules[0]: object has missing required properties (["action","selection"])'));
  it('refuses unknown rule properties', () =>
    badRule(rule({ unknown: 123 }), 'rules[0]: object instance has properties which are not allowed by the schema: (["unknown"])'));
  it('requires rulePriority >= 1', () =>
    badRule(rule({ rulePriority: 0 }), 'rules[0].rulePriority: numeric instance is lower than the required minimum (minimum: 1, found: 0)'));
  it('requires an integer rulePriority', () => {
    badRule(rule({ rulePriority: 1.5 }), 'rules[0].rulePriority: instance type (number) does not match any allowed primitive type (allowed: ["integer"])');
    badRule(rule({ rulePriority: '1' }), 'rules[0].rulePriority: instance type (string) does not match any allowed primitive type (allowed: ["integer"])');
  });
  it('caps rulePriority at a 32-bit int', () =>
    badRule(rule({ rulePriority: 2147483648 }), 'rules[0].rulePriority: numeric instance is greater than the required maximum (maximum: 2147483647, found: 2147483648)'));
  it('requires a string description', () =>
    badRule(rule({ description: 7 }), 'rules[0].description: instance type (integer) does not match any allowed primitive type (allowed: ["string"])'));
  it('refuses duplicate rulePriority', () =>
    bad([rule({}, { tagStatus: 'tagged', tagPrefixList: ['a'] }), rule()], 'rules[1].rulePriority: rulePriority 1 is not unique (also used by rules[0])'));
  it('allows only one untagged rule', () =>
    bad([rule(), rule({ rulePriority: 2 })], 'rules[1].selection.tagStatus: Only one rule can select untagged images per storage class (rules[0] and rules[1], storageClass standard)'));
  it('requires the any rule to have the highest rulePriority', () =>
    bad(
      [rule({ rulePriority: 5 }, { tagStatus: 'any' }), rule({ rulePriority: 7 })],
      'rules[0].rulePriority: Rule for tagStatus=any must have the highest rulePriority per storage class (found: 5, highest in storageClass standard: 7)',
    ));
  it('allows only one any rule', () =>
    bad(
      [rule({ rulePriority: 2 }, { tagStatus: 'any' }), rule({ rulePriority: 1 }, { tagStatus: 'any' })],
      'rules[1].rulePriority: Rule for tagStatus=any must have the highest rulePriority per storage class (found: 1, highest in storageClass standard: 2)',
    ));
});

describe('parseLifecyclePolicy: selection', () => {
  it('requires a selection object', () =>
    badRule(rule({ selection: [] }), 'rules[0].selection: instance type (array) does not match any allowed primitive type (allowed: ["object"])'));
  it('requires tagStatus, countType and countNumber', () => {
    badSel({ countType: 'imageCountMoreThan', countNumber: 30 }, 'rules[0].selection: object has missing required properties (["tagStatus"])');
    badSel({ tagStatus: 'untagged', countNumber: 30 }, 'rules[0].selection: object has missing required properties (["countType"])');
    badSel({ tagStatus: 'untagged' }, 'rules[0].selection: object has missing required properties (["countNumber","countType"])');
  });
  it('refuses unknown selection properties', () =>
    badSel(sel({ unknown: 1 }), 'rules[0].selection: object instance has properties which are not allowed by the schema: (["unknown"])'));
  it('refuses an unknown tagStatus', () =>
    badSel(sel({ tagStatus: 'TAGGED' }), 'rules[0].selection.tagStatus: instance value ("TAGGED") not found in enum (possible values: ["tagged","untagged","any"])'));
  it('refuses an unknown countType', () =>
    badSel(sel({ countType: 'unknown' }), 'rules[0].selection.countType: instance value ("unknown") not found in enum (possible values: ["imageCountMoreThan","sinceImagePushed","sinceImagePulled","sinceImageTransitioned"])'));
  it('requires countNumber >= 1', () => {
    badSel(sel({ countNumber: 0 }), 'rules[0].selection.countNumber: numeric instance is lower than the required minimum (minimum: 1, found: 0)');
    badSel(sel({ countNumber: -1 }), 'rules[0].selection.countNumber: numeric instance is lower than the required minimum (minimum: 1, found: -1)');
  });
  it('requires an integer countNumber', () =>
    badSel(sel({ countNumber: 2.5 }), 'rules[0].selection.countNumber: instance type (number) does not match any allowed primitive type (allowed: ["integer"])'));
  it('requires a tag list when tagged', () =>
    badSel(sel({ tagStatus: 'tagged' }), 'rules[0].selection: tagPrefixList or tagPatternList is required when tagStatus is tagged'));
  it('refuses both tag lists', () =>
    badSel(sel({ tagStatus: 'tagged', tagPrefixList: ['a'], tagPatternList: ['a*'] }), 'rules[0].selection: tagPrefixList and tagPatternList cannot both be specified'));
  it('refuses tag lists with untagged and any', () => {
    badSel(sel({ tagPrefixList: ['a'] }), 'rules[0].selection.tagPrefixList: tagPrefixList can only be specified when tagStatus is tagged (found: untagged)');
    badSel(sel({ tagStatus: 'any', tagPatternList: ['a*'] }), 'rules[0].selection.tagPatternList: tagPatternList can only be specified when tagStatus is tagged (found: any)');
  });
  it('requires non-empty lists of non-empty strings', () => {
    const t = { tagStatus: 'tagged' };
    badSel(sel({ ...t, tagPrefixList: [] }), 'rules[0].selection.tagPrefixList: array is too short: must have at least 1 elements but instance has 0 elements');
    badSel(sel({ ...t, tagPrefixList: 'prod' }), 'rules[0].selection.tagPrefixList: instance type (string) does not match any allowed primitive type (allowed: ["array"])');
    badSel(sel({ ...t, tagPatternList: ['a*', ''] }), 'rules[0].selection.tagPatternList[1]: string "" is too short (length: 0, required minimum: 1)');
    badSel(sel({ ...t, tagPrefixList: [1] }), 'rules[0].selection.tagPrefixList[0]: instance type (integer) does not match any allowed primitive type (allowed: ["string"])');
  });
  it('allows at most 4 wildcards per pattern', () =>
    badSel(sel({ tagStatus: 'tagged', tagPatternList: ['*test*1*2*3', 'test*1*2*3*4*5*6'] }), 'rules[0].selection.tagPatternList[1]: tag pattern has more than 4 wildcards (*) (found: 6)'));
  it('requires countUnit for since* count types', () =>
    badSel(sel({ countType: 'sinceImagePushed' }), 'rules[0].selection: object has missing required properties (["countUnit"])'));
  it('refuses countUnit with imageCountMoreThan', () =>
    badSel(sel({ countUnit: 'days' }), 'rules[0].selection.countUnit: countUnit cannot be specified when countType is imageCountMoreThan'));
  it('accepts only days as countUnit', () =>
    badSel(sel({ countType: 'sinceImagePushed', countUnit: 'hours' }), 'rules[0].selection.countUnit: instance value ("hours") not found in enum (possible values: ["days"])'));
  it('refuses an unknown storageClass', () =>
    badSel(sel({ storageClass: 'glacier' }), 'rules[0].selection.storageClass: instance value ("glacier") not found in enum (possible values: ["standard","archive"])'));
  it('allows storageClass archive only with sinceImageTransitioned', () =>
    badSel(sel({ storageClass: 'archive', countType: 'sinceImagePushed', countUnit: 'days' }), 'rules[0].selection.storageClass: storageClass archive can only be used with countType sinceImageTransitioned (found: sinceImagePushed)'));
  it('requires storageClass archive with sinceImageTransitioned', () => {
    const s = sel({ countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 90 });
    badSel(s, 'rules[0].selection: object has missing required properties (["storageClass"])');
    badSel({ ...s, storageClass: 'standard' }, 'rules[0].selection.storageClass: storageClass must be archive when countType is sinceImageTransitioned');
  });
  it('refuses expiring archived images before 90 days', () =>
    badSel(sel({ storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 30 }), 'rules[0].selection.countNumber: archived images cannot be expired before 90 days (minimum: 90, found: 30)'));
});

describe('parseLifecyclePolicy: action', () => {
  const act = (action: unknown, detail: string, selection: Json = sel()) => badRule(rule({ action, selection }), detail);
  it('requires an action object with a type', () => {
    act('expire', 'rules[0].action: instance type (string) does not match any allowed primitive type (allowed: ["object"])');
    act({}, 'rules[0].action: object has missing required properties (["type"])');
  });
  it('refuses unknown action properties', () =>
    act({ type: 'expire', unknown: 123 }, 'rules[0].action: object instance has properties which are not allowed by the schema: (["unknown"])'));
  it('refuses an unknown action type', () =>
    act({ type: 'keep' }, 'rules[0].action.type: instance value ("keep") not found in enum (possible values: ["expire","transition"])'));
  it('requires targetStorageClass archive for transition', () => {
    act({ type: 'transition' }, 'rules[0].action: object has missing required properties (["targetStorageClass"])');
    act({ type: 'transition', targetStorageClass: 'glacier' }, 'rules[0].action.targetStorageClass: instance value ("glacier") not found in enum (possible values: ["archive"])');
  });
  it('refuses targetStorageClass with expire', () =>
    act({ type: 'expire', targetStorageClass: 'archive' }, 'rules[0].action.targetStorageClass: targetStorageClass can only be specified when type is transition'));
  it('refuses transitioning archived images', () =>
    act({ type: 'transition', targetStorageClass: 'archive' }, 'rules[0].action.type: images in storageClass archive can only be expired, not transitioned', sel({ storageClass: 'archive', countType: 'sinceImageTransitioned', countUnit: 'days', countNumber: 90 })));
  it('refuses sinceImagePulled with expire unless berth.allowExpireOnPull', () =>
    act({ type: 'expire' }, 'rules[0].action.type: countType sinceImagePulled can only be used with action type transition (targetStorageClass archive); set "berth": { "allowExpireOnPull": true } to expire on last pull', sel({ countType: 'sinceImagePulled', countUnit: 'days' })));
});

describe('parseLifecyclePolicy: berth extension block', () => {
  const badExt = (berth: unknown, detail: string) => bad([rule()], detail, { berth });
  it('requires an object', () =>
    badExt(true, 'berth: instance type (boolean) does not match any allowed primitive type (allowed: ["object"])'));
  it('refuses unknown extension properties', () =>
    badExt({ keepLast: 3 }, 'berth: object instance has properties which are not allowed by the schema: (["keepLast"])'));
  it('requires a non-empty pattern list with at most 4 wildcards each', () => {
    badExt({ protectTagPatterns: [] }, 'berth.protectTagPatterns: array is too short: must have at least 1 elements but instance has 0 elements');
    badExt({ protectTagPatterns: ['a*b*c*d*e*f'] }, 'berth.protectTagPatterns[0]: tag pattern has more than 4 wildcards (*) (found: 5)');
  });
  it('requires a boolean allowExpireOnPull', () =>
    badExt({ allowExpireOnPull: 'yes' }, 'berth.allowExpireOnPull: instance type (string) does not match any allowed primitive type (allowed: ["boolean"])'));
});
