import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalVerdict, signVerdict, signingKeyId, verifyVerdict, type Verdict } from '@revmod/client';

const doc = readFileSync(join(__dirname, '../../docs/reliability.md'), 'utf8');
const block = /<!-- signature-vector:start -->([\s\S]*?)<!-- signature-vector:end -->/.exec(doc)![1]!;
const documentedCanonical = /```\n\s*(\{.*\})\n\s*```/.exec(block)![1]!;
const documentedSignature = /signature `([0-9a-f]{8}\.[0-9a-f]{64})`/.exec(block)![1]!;
const KEY = 'revmod-test-key';

const vector = JSON.parse(documentedCanonical) as Verdict;

describe('verdict signatures', () => {
  it('match the documented test vector and openssl dgst -hmac', () => {
    expect(canonicalVerdict(vector)).toBe(documentedCanonical);
    const signed = signVerdict(vector, KEY);
    expect(signed.signature).toBe(documentedSignature);
    const openssl = execFileSync('openssl', ['dgst', '-sha256', '-hmac', KEY], { input: documentedCanonical }).toString();
    expect(openssl.trim().split(' ').pop()).toBe(documentedSignature.split('.')[1]);
    expect(signingKeyId(KEY)).toBe(documentedSignature.split('.')[0]);
  });

  it('does not depend on key order or undefined fields', () => {
    const shuffled = Object.fromEntries(Object.entries(vector).reverse()) as unknown as Verdict;
    expect(signVerdict({ ...shuffled, error: undefined } as Verdict, KEY).signature).toBe(documentedSignature);
  });

  it('refuses altered, unsigned and foreign-key verdicts, naming why', () => {
    const signed = signVerdict(vector, KEY);
    expect(() => verifyVerdict(signed, [KEY])).not.toThrow();
    expect(() => verifyVerdict({ ...signed, decision: 'block' }, [KEY])).toThrow(/does not match its signature: it was altered or forged/);
    expect(() => verifyVerdict({ ...signed, meta: { reviewId: 1002 } }, [KEY])).toThrow(/altered or forged/);
    expect(() => verifyVerdict(vector, [KEY])).toThrow(/is not signed/);
    expect(() => verifyVerdict(signVerdict(vector, 'another-key'), [KEY])).toThrow(/signed by key "[0-9a-f]{8}", which is not accepted here/);
    try {
      verifyVerdict({ ...signed, decision: 'block' }, [KEY]);
    } catch (err) {
      expect(err).toMatchObject({ code: 'VERDICT_SIGNATURE_INVALID', retryable: false });
    }
  });

  it('accepts both keys while rotating', () => {
    expect(() => verifyVerdict(signVerdict(vector, 'old-key'), ['new-key', 'old-key'])).not.toThrow();
    expect(() => verifyVerdict(signVerdict(vector, 'new-key'), ['new-key', 'old-key'])).not.toThrow();
  });
});
