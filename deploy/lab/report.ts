/** The lab's findings: each check passes or fails, with the figures it measured. */

export interface Check {
  name: string;
  ok: boolean;
  figures: string[];
  /** Headline figures for the summary table, e.g. "failover 0.9 s". */
  headline: string[];
  error?: string;
}

export class Report {
  readonly checks: Check[] = [];
  readonly started = Date.now();

  /**
   * Runs one check. A thrown error fails it (and is printed with the figures
   * gathered so far); `fail()` fails it and goes on measuring.
   */
  async run(name: string, body: (c: CheckHandle) => Promise<void>): Promise<boolean> {
    const check: Check = { name, ok: true, figures: [], headline: [] };
    this.checks.push(check);
    console.log(`\n== ${name}`);
    const t0 = Date.now();
    try {
      await body(new CheckHandle(check));
    } catch (e) {
      check.ok = false;
      check.error = e instanceof Error ? e.message : String(e);
      console.log(`   ERROR: ${check.error}`);
    }
    console.log(`   -> ${check.ok ? "PASS" : "FAIL"} (${secs(Date.now() - t0)})`);
    return check.ok;
  }

  skip(name: string, why: string) {
    this.checks.push({ name, ok: false, figures: [], headline: [], error: `not run: ${why}` });
    console.log(`\n== ${name}\n   not run: ${why}\n   -> FAIL`);
  }

  get ok(): boolean {
    return this.checks.length > 0 && this.checks.every((c) => c.ok);
  }

  summary(): string {
    const lines = ["", "================ HA lab summary ================"];
    for (const c of this.checks) {
      lines.push(`${c.ok ? "PASS" : "FAIL"}  ${c.name}`);
      for (const h of c.headline) lines.push(`        ${h}`);
      if (c.error) lines.push(`        error: ${c.error.split("\n")[0]}`);
    }
    const failed = this.checks.filter((c) => !c.ok).length;
    lines.push(
      `${failed ? `${failed} of ${this.checks.length} checks FAILED` : `all ${this.checks.length} checks passed`}` +
        ` in ${secs(Date.now() - this.started)}`,
    );
    return lines.join("\n");
  }
}

export class CheckHandle {
  constructor(readonly check: Check) {}

  /** A figure: printed now and kept for the report. `headline` also puts it in the summary. */
  figure(text: string, headline = false) {
    this.check.figures.push(text);
    if (headline) this.check.headline.push(text);
    console.log(`   ${text}`);
  }

  /** Fails the check without stopping it. */
  fail(why: string) {
    this.check.ok = false;
    this.check.figures.push(`FAILED: ${why}`);
    this.check.headline.push(`FAILED: ${why}`);
    console.log(`   FAILED: ${why}`);
  }

  expect(cond: boolean, why: string) {
    if (!cond) this.fail(why);
  }
}

export function secs(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
