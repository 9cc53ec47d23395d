type Cleanup = () => Promise<void> | void;

/**
 * What a tool started, undone once, last registered first: on a normal end, an error, SIGINT or
 * SIGTERM. A failing step is reported and the others still run.
 */
export class CleanupStack {
  private readonly steps: Array<{ name: string; fn: Cleanup }> = [];
  private running: Promise<void> | undefined;

  add(name: string, fn: Cleanup): void {
    this.steps.push({ name, fn });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.splice(0).reverse()) {
        try {
          await step.fn();
        } catch (err) {
          process.stderr.write(`cleanup ${step.name}: ${(err as Error).message}\n`);
        }
      }
    })();
    return this.running;
  }

  /** On SIGINT/SIGTERM: clean up, then exit 130/143 (for tool entry points only). */
  installSignalHandlers(label: string): void {
    const onSignal = (signal: NodeJS.Signals, code: number) => {
      process.stderr.write(`\n${signal}: stopping what ${label} started...\n`);
      void this.run().finally(() => process.exit(code));
    };
    process.once('SIGINT', () => onSignal('SIGINT', 130));
    process.once('SIGTERM', () => onSignal('SIGTERM', 143));
  }
}
