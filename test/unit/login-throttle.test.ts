/** The login throttle's state machine, with a clock the test moves: no sockets, no timers. */
import { describe, expect, it } from "bun:test";
import { LOGIN_THROTTLE_DEFAULTS, LoginThrottle, type LoginThrottleOptions } from "../../src/server/login-throttle.ts";

function throttle(o: Partial<LoginThrottleOptions> = {}) {
  const clock = { now: 1_000_000 };
  const t = new LoginThrottle(o, () => clock.now);
  return { t, clock, tick: (ms: number) => (clock.now += ms) };
}

const ACCOUNT = "user:7";
const IP = "192.0.2.1";

describe("the login throttle", () => {
  it("lets an account's first four failures pass, and makes the attempt after the fifth within a minute wait 250 ms", () => {
    const { t, tick } = throttle();
    for (let i = 0; i < 4; i++) {
      expect(t.account(ACCOUNT)).toBeUndefined();
      expect(t.failed(ACCOUNT, IP)).toBe(0);
      tick(10_000);
    }
    expect(t.account(ACCOUNT)).toBeUndefined();
    expect(t.failed(ACCOUNT, IP)).toBe(250);
    expect(t.account(ACCOUNT)).toEqual({ scope: "account", ms: 250 });
    tick(100);
    expect(t.account(ACCOUNT)).toEqual({ scope: "account", ms: 150 });
    tick(150);
    expect(t.account(ACCOUNT)).toBeUndefined();
  });

  it("doubles the wait with each further failure, up to the cap", () => {
    const { t, tick } = throttle({ maxDelayMs: 3000 });
    const waits: number[] = [];
    for (let i = 0; i < 10; i++) {
      const w = t.account(ACCOUNT);
      if (w) tick(w.ms); // a patient attacker: tries again as soon as allowed
      expect(t.account(ACCOUNT)).toBeUndefined();
      waits.push(t.failed(ACCOUNT, IP));
    }
    expect(waits).toEqual([0, 0, 0, 0, 250, 500, 1000, 2000, 3000, 3000]);
  });

  it("counts only the failures within the window: five spread over more than a minute never throttle", () => {
    const { t, tick } = throttle();
    for (let i = 0; i < 20; i++) {
      expect(t.account(ACCOUNT)).toBeUndefined();
      expect(t.failed(ACCOUNT, `10.0.0.${i}`)).toBe(0);
      tick(15_001); // four in any minute, never five
    }
  });

  it("forgives an account's failures when its password is right, but not its address's", () => {
    const { t } = throttle({ addressFailures: 6 });
    for (let i = 0; i < 4; i++) t.failed(ACCOUNT, IP);
    t.succeeded(ACCOUNT);
    for (let i = 0; i < 4; i++) expect(t.failed(ACCOUNT, IP)).toBe(i < 1 ? 0 : 250 * 2 ** (i - 1));
    // 4 + 4 failures from the address: it passed its 6 on the 6th, though the account has only 4 since its success.
    expect(t.address(IP)?.scope).toBe("address");
    expect(t.accounts.size).toBe(1);
  });

  it("throttles one account without touching another account from the same address", () => {
    const { t } = throttle();
    for (let i = 0; i < 5; i++) t.failed(ACCOUNT, IP);
    expect(t.account(ACCOUNT)?.scope).toBe("account");
    expect(t.account("user:8")).toBeUndefined();
    expect(t.address(IP)).toBeUndefined();
  });

  it("after twenty failures from one address, makes every login from it wait, whatever the account", () => {
    const { t } = throttle();
    for (let i = 0; i < 19; i++) expect(t.failed(`name:guess${i}`, IP)).toBe(0);
    expect(t.address(IP)).toBeUndefined();
    expect(t.failed("name:guess19", IP)).toBe(250);
    expect(t.address(IP)).toEqual({ scope: "address", ms: 250 });
    expect(t.address("192.0.2.2")).toBeUndefined();
    expect(t.account("name:guess0")).toBeUndefined(); // one failure each: the accounts are not throttled
  });

  it("books the next wait when it lets a throttled key try, so parallel attempts cannot slip into the gap", () => {
    const { t, tick } = throttle();
    for (let i = 0; i < 5; i++) t.failed(ACCOUNT, IP);
    tick(250);
    expect(t.account(ACCOUNT)).toBeUndefined(); // this one may check its password
    expect(t.account(ACCOUNT)).toEqual({ scope: "account", ms: 500 }); // the next, sent meanwhile, may not
    expect(t.failed(ACCOUNT, IP)).toBe(500);
  });

  it("forgets a key once a window has passed without a failure after its wait ended", () => {
    const { t, tick } = throttle();
    for (let i = 0; i < 5; i++) t.failed(ACCOUNT, IP);
    tick(250 + 59_999);
    t.prune();
    expect(t.accounts.size).toBe(1);
    tick(1);
    t.prune();
    expect(t.accounts.size).toBe(0);
    expect(t.addresses.size).toBe(0);
    // A fresh start: four more failures pass.
    expect(t.account(ACCOUNT)).toBeUndefined();
    for (let i = 0; i < 4; i++) expect(t.failed(ACCOUNT, IP)).toBe(0);
  });

  it("keeps a throttled key as long as it keeps failing, however long that is", () => {
    const { t, tick } = throttle({ maxDelayMs: 60_000 });
    for (let i = 0; i < 5; i++) t.failed(ACCOUNT, IP);
    let waited = 0;
    for (let i = 0; i < 20; i++) {
      const w = t.account(ACCOUNT)?.ms ?? 0;
      tick(w);
      waited += w;
      expect(t.account(ACCOUNT)).toBeUndefined();
      t.failed(ACCOUNT, IP);
    }
    expect(waited).toBeGreaterThan(10 * 60_000);
    expect(t.account(ACCOUNT)?.ms).toBe(60_000);
  });

  it("keeps at most maxKeys keys, dropping the least recently failed", () => {
    const { t, tick } = throttle({ maxKeys: 3, accountFailures: 1 });
    for (const k of ["name:a", "name:b", "name:c", "name:d"]) {
      t.failed(k, IP);
      tick(1);
    }
    expect(t.accounts.size).toBe(3);
    expect(t.account("name:a")).toBeUndefined(); // dropped
    expect(t.account("name:d")?.scope).toBe("account");
  });

  it("can be turned off per table with 0", () => {
    const { t } = throttle({ accountFailures: 0, addressFailures: 0 });
    for (let i = 0; i < 100; i++) expect(t.failed(ACCOUNT, IP)).toBe(0);
    expect(t.account(ACCOUNT)).toBeUndefined();
    expect(t.address(IP)).toBeUndefined();
    expect(t.accounts.size + t.addresses.size).toBe(0);
  });

  it("refuses contradictory options with a TypeError", () => {
    expect(() => new LoginThrottle({ delayMs: 1000, maxDelayMs: 500 })).toThrow(TypeError);
    expect(() => new LoginThrottle({ delayMs: 0 })).toThrow(TypeError);
    expect(() => new LoginThrottle({ accountFailures: -1 })).toThrow(TypeError);
    expect(() => new LoginThrottle({ maxKeys: 0 })).toThrow(TypeError);
    expect(() => new LoginThrottle(LOGIN_THROTTLE_DEFAULTS)).not.toThrow();
  });
});
