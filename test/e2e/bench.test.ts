import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * The bench has no global deadline here: every wait in it has its own timeout, and a loaded
 * machine only makes it slower. This bound is for a bench that hangs, not for a slow machine:
 * an unloaded run takes ~1 min.
 */
const TEST_TIMEOUT_MS = 8 * 60_000;

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
  truncated: boolean;
  gateways: { kind: string; figures: FigureJson[]; blob10: { intact: boolean } }[];
  sharedFigures: FigureJson[];
  failures: string[];
}

function runSmokeBench(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // The built bench (npm test builds first); --json keeps stdout to the one JSON document.
    const child = spawn(process.execPath, ['dist/scripts/bench.js', '--quick', '--reps', '1', '--json'], {
      cwd: ROOT,
      // The gateways need no token; a memory token store keeps this test about the bench, not
      // about whether the machine has a Secret Service (the keychain has its own e2e tests).
      env: { ...process.env, BENCH_BRIDGE_ARGS: '--token-store memory' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-20_000)));
    const killer = setTimeout(() => child.kill('SIGKILL'), TEST_TIMEOUT_MS - 10_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

const finitePositive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** Every figure the report must carry, per gateway and once for the run. */
const PER_GATEWAY = ['start_ms', 'echo_p50_ms', 'echo_seq_cps', 'echo_conc_cps', 'blob_p50_ms', 'blob_seq_cps', 'blob_conc_cps', 'floor_blob_p50_ms', 'floor_blob_seq_cps', 'floor_blob_conc_cps', 'rss_idle_mib', 'rss_burst_mib', 'big_peak_mib'];
const SHARED = ['auth_start_file_ms', 'token_echo_p50_ms', 'hook_echo_p50_ms', 'dpop_echo_p50_ms', 'dpop_headers_us', 'dpop_outside_ms'];
/** Figures whose values are differences (either sign): they must be finite, not positive. */
const SIGNED = new Set(['dpop_outside_ms']);

describe('npm run bench (smoke)', () => {
  // A smoke test: it proves the bench runs against every gateway and reports every figure. It never
  // judges a figure or a target (the machine is shared; the figures go in closing notes).
  it(
    'completes against the lab, SDK v2 (2025 and 2026-07-28 clients) and SDK example gateways, with a finite positive number for every figure, the 10 MiB blob intact',
    async () => {
      const { code, stdout, stderr } = await runSmokeBench();
      expect(code, stderr.slice(-4_000)).toBe(0);
      const report = JSON.parse(stdout) as BenchJson;
      expect(report.failures).toEqual([]);
      expect(report.completed).toBe(true);
      expect(report.truncated).toBe(false);
      expect(report.gateways.map((g) => g.kind)).toEqual(['lab', 'v2', 'v2-2026', 'example']);

      const bad: string[] = [];
      const checkFigures = (where: string, figures: FigureJson[], required: string[]): void => {
        const keys = figures.map((f) => f.key);
        for (const key of required) if (!keys.includes(key)) bad.push(`${where}: no ${key}`);
        for (const f of figures) {
          for (const field of ['direct', 'bridge', 'ratio'] as const) {
            // A hooked bridge may be faster than the plain one by chance: its difference is signed, its values are not.
            if (field in f && !(SIGNED.has(f.key) ? Number.isFinite(f[field]) : finitePositive(f[field]))) bad.push(`${where}.${f.key}.${field} = ${String(f[field])}`);
          }
          const ok = SIGNED.has(f.key) ? (v: unknown) => typeof v === 'number' && Number.isFinite(v) : finitePositive;
          for (const v of [...f.directReps, ...f.bridgeReps]) if (!ok(v)) bad.push(`${where}.${f.key} repetition = ${String(v)}`);
        }
      };
      for (const g of report.gateways) {
        expect(g.blob10.intact, `${g.kind}: 10 MiB blob`).toBe(true);
        checkFigures(g.kind, g.figures, PER_GATEWAY);
      }
      checkFigures('shared', report.sharedFigures, SHARED);
      expect(bad).toEqual([]);
    },
    TEST_TIMEOUT_MS,
  );
});
