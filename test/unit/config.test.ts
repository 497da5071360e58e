import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('configuration', () => {
  it('refuses settings that contradict each other, naming both', () => {
    const refused = (() => {
      try {
        loadConfig({ HEARTBEAT_MS: '10000', STALE_AFTER_MS: '5000' });
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).issues).toEqual([expect.stringMatching(/^STALE_AFTER_MS=5000 with HEARTBEAT_MS=10000: .*at least twice/)]);
  });

  it('takes the defaults, and a stale bound exactly two beats long', () => {
    expect(loadConfig({})).toMatchObject({ HEARTBEAT_MS: 5_000, STALE_AFTER_MS: 30_000 });
    expect(loadConfig({ HEARTBEAT_MS: '1000', STALE_AFTER_MS: '2000' })).toMatchObject({ STALE_AFTER_MS: 2_000 });
  });
});
