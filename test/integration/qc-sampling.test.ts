import { Redis } from 'ioredis';
import { VerdictPublisher } from '../../src/pipeline/verdict-publisher';
import { QC_SAMPLE_JOB_NAME } from '../../src/review/sampling';
import { makeVerdict } from '../helpers/review-fixtures';
import { deletePrefix, testConfig, TEST_REDIS_URL, uniquePrefix } from '../helpers/test-config';

describe('QC samples from the verdict publisher (real Redis)', () => {
  const prefix = uniquePrefix('qc-sampling');
  let redis: Redis;
  beforeAll(() => { redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null }); });
  afterAll(async () => {
    redis.disconnect();
    await deletePrefix(prefix);
  });

  it('sends the configured fraction of pass verdicts to the review queue as samples, besides review and block ones', async () => {
    const verdicts = [
      ...Array.from({ length: 200 }, (_, i) => makeVerdict({ key: `qc/pass-${i}.jpg`, decision: 'pass' })),
      makeVerdict({ key: 'qc/review.jpg', decision: 'review' }),
      makeVerdict({ key: 'qc/block.jpg', decision: 'block' }),
    ];
    const publisher = new VerdictPublisher(testConfig({ redis: { prefix }, review: { sampleRate: 0.1 } }), redis);
    try {
      await publisher.publish(verdicts);
      expect(await publisher.results.count()).toBe(202);
      const review = await publisher.review.getJobs(['waiting'], 0, -1);
      const samples = review.filter((j) => j.name === QC_SAMPLE_JOB_NAME);
      expect(review.filter((j) => j.name !== QC_SAMPLE_JOB_NAME).map((j) => j.name).sort()).toEqual(['block', 'review']);
      expect(samples.length).toBeGreaterThan(8);
      expect(samples.length).toBeLessThan(35);
      expect(samples.every((j) => j.data.decision === 'pass')).toBe(true);
    } finally {
      await publisher.close();
    }
  });
});
