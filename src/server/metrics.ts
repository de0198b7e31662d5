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

export class Metrics {
  readonly #families = new Map<string, Family>();
  readonly #collectors: (() => void)[] = [];

  #family(name: string, help: string, kind: "counter" | "gauge") {
    let f = this.#families.get(name);
    if (!f) this.#families.set(name, (f = new Family(name, help, kind)));
    return f;
  }

  /** Adds `n` (default 1) to counter `name`. */
  inc(name: string, help: string, labels?: Labels, n = 1) {
    this.#family(name, help, "counter").add(labels, n);
  }

  gauge(name: string, help: string, value: number, labels?: Labels) {
    this.#family(name, help, "gauge").set(labels, value);
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
    return out;
  }
}
