/**
 * Counters and gauges for /metrics, rendered as Prometheus text. A server owns
 * one `Metrics`; nothing here is module-level state.
 */
type Labels = Record<string, string>;

class Family {
  readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly kind: "counter" | "gauge",
  ) {}
  add(labels: Labels | undefined, n: number) {
    const key = labels ? labelText(labels) : "";
    this.values.set(key, (this.values.get(key) ?? 0) + n);
  }
  set(labels: Labels | undefined, n: number) {
    this.values.set(labels ? labelText(labels) : "", n);
  }
}

function labelText(labels: Labels): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : "\\" + c))}"`)
    .join(",");
}

/** A Prometheus histogram: cumulative buckets, sum and count. */
class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly bounds: readonly number[],
  ) {
    this.counts = bounds.map(() => 0);
  }
  observe(v: number) {
    this.sum += v;
    this.count++;
    const i = this.bounds.findIndex((b) => v <= b);
    if (i >= 0) this.counts[i] = (this.counts[i] as number) + 1;
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i] as number;
      out += `${this.name}_bucket{le="${this.bounds[i]}"} ${cumulative}\n`;
    }
    return out + `${this.name}_bucket{le="+Inf"} ${this.count}\n${this.name}_sum ${this.sum}\n${this.name}_count ${this.count}\n`;
  }
}

export class Metrics {
  readonly #families = new Map<string, Family>();
  readonly #histograms = new Map<string, Histogram>();
  readonly #collectors: (() => void)[] = [];

  #family(name: string, help: string, kind: "counter" | "gauge") {
    let f = this.#families.get(name);
    if (!f) this.#families.set(name, (f = new Family(name, help, kind)));
    return f;
  }

  /**
   * A counter with one label, for hot paths: the label text of each value is
   * built once. `const byType = m.counter("x_total", "help", "type"); byType("send")`.
   */
  counter(name: string, help: string, label: string): (value: string, n?: number) => void {
    const f = this.#family(name, help, "counter");
    const keys = new Map<string, string>();
    return (value, n = 1) => {
      let key = keys.get(value);
      if (key === undefined) keys.set(value, (key = labelText({ [label]: value })));
      f.values.set(key, (f.values.get(key) ?? 0) + n);
    };
  }

  /** Adds `n` (default 1) to counter `name`. */
  inc(name: string, help: string, labels?: Labels, n = 1) {
    this.#family(name, help, "counter").add(labels, n);
  }

  gauge(name: string, help: string, value: number, labels?: Labels) {
    this.#family(name, help, "gauge").set(labels, value);
  }

  /** A histogram with upper bounds `bounds`; returns its observe function. */
  histogram(name: string, help: string, bounds: readonly number[]): (value: number) => void {
    let h = this.#histograms.get(name);
    if (!h) this.#histograms.set(name, (h = new Histogram(name, help, bounds)));
    const hist = h;
    return (v) => hist.observe(v);
  }

  /** Runs before each render: sets gauges read from elsewhere (pool stats, sessions). */
  collect(fn: () => void) {
    this.#collectors.push(fn);
  }

  /** The value of a counter or gauge (tests, health). */
  value(name: string, labels?: Labels): number {
    return this.#families.get(name)?.values.get(labels ? labelText(labels) : "") ?? 0;
  }

  render(): string {
    for (const c of this.#collectors) c();
    let out = "";
    for (const f of this.#families.values()) {
      out += `# HELP ${f.name} ${f.help}\n# TYPE ${f.name} ${f.kind}\n`;
      for (const [labels, v] of f.values) out += `${f.name}${labels ? `{${labels}}` : ""} ${v}\n`;
    }
    for (const h of this.#histograms.values()) out += h.render();
    return out;
  }
}
