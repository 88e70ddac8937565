/**
 * Ends every test run with one plain line, `N passed, N failed, N skipped`, that any CI
 * can read. Under CI=true a skipped test fails the run: CI installs every system part,
 * so a skip there means a suite silently stopped running.
 */
import type { Reporter, TestCase, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  private passed = 0;
  private failed = 0;
  private skipped: string[] = [];

  onTestCaseResult(test: TestCase): void {
    const state = test.result().state;
    if (state === 'passed') this.passed++;
    else if (state === 'failed') this.failed++;
    else if (state === 'skipped') this.skipped.push(`${test.module.moduleId.replace(process.cwd() + '/', '')} > ${test.fullName}`);
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const brokenModules = modules.filter((m) => m.state() === 'failed' && m.children.size === 0).length;
    const failed = this.failed + brokenModules;
    if (process.env.CI === 'true' && this.skipped.length > 0) {
      process.stdout.write(`\nCI runs every suite, but these were skipped (install what their skip message names):\n${this.skipped.map((s) => `  ${s}`).join('\n')}\n`);
      process.exitCode = 1;
    }
    process.stdout.write(`\n${this.passed} passed, ${failed} failed, ${this.skipped.length} skipped\n`);
  }
}
