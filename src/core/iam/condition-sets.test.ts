/** Absent keys, IfExists, and the ForAnyValue/ForAllValues set operators. */
import { describe, expect, it } from 'vitest';
import { conditionsHold } from './conditions.js';
import { ContextView } from './context.js';
import { parsePolicy } from './policy.js';
import type { ContextValue } from './types.js';

/** operator, policy value(s), context value (undefined = key absent), expected. */
type Row = [string, unknown, ContextValue | undefined, boolean];

function table(rows: Row[]): void {
  it.each(rows)('%s %j vs %j -> %s', (operator, value, ctx, expected) => {
    const doc = { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: '*', Resource: '*', Condition: { [operator]: { 'test:key': value } } } };
    const p = parsePolicy(JSON.stringify(doc), 'identity');
    const context = new ContextView(ctx === undefined ? {} : { 'test:key': ctx });
    expect(conditionsHold(p.statements[0]?.conditions ?? [], context, p.version)).toBe(expected);
  });
}

describe('absent keys and IfExists', () => {
  table([
    ['StringEquals', 'x', undefined, false],
    ['StringLike', '*', undefined, false],
    ['StringNotEquals', 'x', undefined, true],
    ['StringNotLike', 'x*', undefined, true],
    ['NotIpAddress', '10.0.0.0/8', undefined, true],
    ['ArnNotLike', 'arn:aws:iam::*:*', undefined, true],
    ['NumericLessThan', '10', undefined, false],
    ['Bool', 'true', undefined, false],
    ['StringEqualsIfExists', 'x', undefined, true],
    ['StringEqualsIfExists', 'x', 'y', false],
    ['StringEqualsIfExists', 'x', 'x', true],
    ['StringNotEqualsIfExists', 'x', undefined, true],
    ['StringNotEqualsIfExists', 'x', 'x', false],
    ['NumericLessThanIfExists', '10', 20, false],
    ['NumericLessThanIfExists', '10', 5, true],
    ['BoolIfExists', 'true', undefined, true],
    ['BoolIfExists', 'true', false, false],
    ['IpAddressIfExists', '10.0.0.0/8', undefined, true],
    ['DateLessThanIfExists', '2025-01-01', '2026-01-01', false],
    ['ArnLikeIfExists', 'arn:aws:iam::*:*', undefined, true],
    ['BinaryEqualsIfExists', 'QmVydGg=', undefined, true],
  ]);
});

describe('set operators', () => {
  table([
    ['ForAnyValue:StringEquals', 'a', undefined, false],
    ['ForAnyValue:StringEquals', 'a', [], false],
    ['ForAnyValue:StringNotEquals', 'a', undefined, false],
    ['ForAnyValue:StringEqualsIfExists', 'a', undefined, true],
    ['ForAllValues:StringEquals', 'a', undefined, true],
    ['ForAllValues:StringEquals', 'a', [], true],
    ['ForAllValues:StringNotEquals', 'a', undefined, true],
    ['ForAllValues:StringEquals', ['a', 'b'], ['a'], true],
    ['ForAllValues:StringEquals', ['a', 'b'], ['b', 'a'], true],
    ['ForAllValues:StringEquals', ['a', 'b'], ['a', 'c'], false],
    ['ForAnyValue:StringEquals', ['a', 'b'], ['c', 'b'], true],
    ['ForAnyValue:StringEquals', ['a', 'b'], ['c', 'd'], false],
    ['ForAllValues:StringNotEquals', 'a', ['b', 'c'], true],
    ['ForAllValues:StringNotEquals', 'a', ['a', 'c'], false],
    ['ForAnyValue:StringNotEquals', 'a', ['a', 'c'], true],
    ['ForAnyValue:StringNotEquals', 'a', ['a'], false],
    ['ForAllValues:StringLike', 'team-*', ['team-a', 'team-b'], true],
    ['ForAllValues:StringLike', 'team-*', ['team-a', 'owner'], false],
    ['ForAnyValue:StringLike', ['team-*', 'env'], ['owner', 'env'], true],
    ['ForAnyValue:StringEquals', 'a', 'a', true],
    ['ForAllValues:StringEquals', 'a', 'b', false],
    ['ForAnyValue:StringEqualsIgnoreCase', 'A', ['x', 'a'], true],
    ['ForAllValues:StringNotLike', 'secret-*', ['a', 'b'], true],
    ['ForAnyValue:IpAddress', '10.0.0.0/8', ['8.8.8.8', '10.1.1.1'], true],
    ['ForAllValues:ArnLike', 'arn:aws:iam::*:role/*', ['arn:aws:iam::1:role/a', 'arn:aws:iam::2:user/b'], false],
    ['StringEquals', 'a', ['b', 'a'], true],
    ['StringEquals', 'a', ['b', 'c'], false],
    ['StringNotEquals', 'a', ['b', 'a'], false],
    ['StringNotEquals', 'a', ['b', 'c'], true],
  ]);
});
