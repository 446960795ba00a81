import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The bench's own global deadline; the test's timeout leaves room for start and cleanup. */
const BENCH_DEADLINE_S = 42;
const TEST_TIMEOUT_MS = 58_000;

interface FigureJson {
  key: string;
  direct?: unknown;
  bridge?: unknown;
  ratio?: unknown;
  directReps: unknown[];
  bridgeReps: unknown[];
}

interface BenchJson {
  completed: boolean;
  figures: FigureJson[];
  blob10: { intact: boolean };
  failures: string[];
}

function runQuickBench(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // The built bench (npm test builds first); --json keeps stdout to the one JSON document.
    const child = spawn(process.execPath, ['dist/scripts/bench.js', '--quick', '--json', '--deadline-s', String(BENCH_DEADLINE_S)], {
      cwd: ROOT,
      // The lab gateway needs no token; a memory token store keeps this test about the bench, not
      // about whether the machine has a Secret Service (the keychain has its own e2e tests).
      env: { ...process.env, BENCH_BRIDGE_ARGS: '--token-store memory' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const killer = setTimeout(() => child.kill('SIGKILL'), TEST_TIMEOUT_MS - 2_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

const finitePositive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;

describe('npm run bench --quick', () => {
  // No timing assertions: the machine is shared; the bench is a report, this only proves it runs.
  it(
    'completes, yields a finite positive number for every figure, and relays the 10 MiB blob intact',
    async () => {
      const { code, stdout, stderr } = await runQuickBench();
      expect(code, stderr.slice(-2_000)).toBe(0);
      const report = JSON.parse(stdout) as BenchJson;
      expect(report.failures).toEqual([]);
      expect(report.completed).toBe(true);
      expect(report.blob10.intact).toBe(true);

      expect(report.figures.length).toBeGreaterThan(0);
      const keys = report.figures.map((f) => f.key);
      for (const key of ['start_ms', 'echo_p50_ms', 'echo_seq_cps', 'echo_conc_cps', 'blob_p50_ms', 'blob_seq_cps', 'blob_conc_cps', 'rss_idle_mib', 'rss_burst_mib', 'big_peak_mib']) {
        expect(keys).toContain(key);
      }
      const bad: string[] = [];
      for (const f of report.figures) {
        for (const field of ['direct', 'bridge', 'ratio'] as const) {
          if (field in f && !finitePositive(f[field])) bad.push(`${f.key}.${field} = ${String(f[field])}`);
        }
        for (const v of [...f.directReps, ...f.bridgeReps]) if (!finitePositive(v)) bad.push(`${f.key} repetition = ${String(v)}`);
      }
      expect(bad).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});
