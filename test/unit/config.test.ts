import { describe, expect, it } from 'vitest';
import { ConfigError, isLoopback, listenAddress, loadConfig, urlHost } from '../../src/config.ts';

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

  describe('where the API listens (HOST, API_TOKENS, API_OPEN)', () => {
    const TOKENS = 'alice:secret-a:admin';
    const refusal = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (error) {
        return error;
      }
      return undefined;
    };

    it('stays on loopback with neither HOST nor API_TOKENS, and on every interface with tokens', () => {
      expect(listenAddress(loadConfig({}))).toEqual({ host: '127.0.0.1', open: false });
      expect(listenAddress(loadConfig({ API_TOKENS: TOKENS }))).toEqual({ host: '0.0.0.0', open: false });
    });

    it('refuses a HOST others can reach without API_TOKENS, naming HOST, API_TOKENS and API_OPEN', () => {
      for (const host of ['0.0.0.0', '::', '192.0.2.2', 'jobgraph.example']) {
        const refused = refusal({ HOST: host });
        expect(refused, host).toBeInstanceOf(ConfigError);
        expect((refused as ConfigError).issues).toEqual([
          expect.stringMatching(new RegExp(`^HOST=${host.replaceAll('.', '\\.')} with API_TOKENS unset: .*API_OPEN=true`)),
        ]);
      }
    });

    it('takes such a HOST with API_TOKENS, or with API_OPEN=true, which it reports as open', () => {
      expect(listenAddress(loadConfig({ HOST: '0.0.0.0', API_TOKENS: TOKENS }))).toEqual({ host: '0.0.0.0', open: false });
      expect(listenAddress(loadConfig({ HOST: '0.0.0.0', API_OPEN: 'true' }))).toEqual({ host: '0.0.0.0', open: true });
    });

    it('takes any loopback HOST without tokens; API_OPEN alone does not leave loopback', () => {
      for (const host of ['127.0.0.1', '127.8.9.10', '::1', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) {
        expect(listenAddress(loadConfig({ HOST: host })), host).toEqual({ host, open: false });
      }
      expect(listenAddress(loadConfig({ API_OPEN: 'true' }))).toEqual({ host: '127.0.0.1', open: false });
    });

    it('refuses API_OPEN=true beside API_TOKENS, and a bracketed IPv6 HOST', () => {
      expect((refusal({ API_OPEN: 'true', API_TOKENS: TOKENS }) as ConfigError).issues).toEqual([expect.stringMatching(/^API_OPEN=true with API_TOKENS set: /)]);
      expect((refusal({ HOST: '[::1]' }) as ConfigError).issues).toEqual([expect.stringMatching(/^HOST="\[::1\]": .*without brackets/)]);
    });

    it('counts 127.0.0.0/8, ::1 and localhost as loopback, nothing else', () => {
      expect(['127.0.0.1', '127.255.255.254', '::1', '0:0:0:0:0:0:0:1', 'localhost'].every(isLoopback)).toBe(true);
      expect(['0.0.0.0', '::', '128.0.0.1', '10.0.0.1', '::ffff:10.0.0.1', 'localhost.example', 'my-host'].some(isLoopback)).toBe(false);
    });

    it('names a listener by a URL host that reaches it', () => {
      expect(['127.0.0.1', '0.0.0.0', '::'].map(urlHost)).toEqual(['localhost', 'localhost', 'localhost']);
      expect(['::1', '192.0.2.2', 'jobgraph.example'].map(urlHost)).toEqual(['[::1]', '192.0.2.2', 'jobgraph.example']);
    });
  });
});
