import { readFile } from 'node:fs/promises';

/** Memory and CPU of a process as Linux reports them in /proc (values for a live pid). */
export interface ProcSample {
  /** Resident set size now, bytes (VmRSS). */
  rssBytes: number;
  /** Peak resident set size over the process's life, bytes (VmHWM). */
  hwmBytes: number;
}

/** Read VmRSS and VmHWM from /proc/<pid>/status. */
export async function readMemory(pid: number): Promise<ProcSample> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  return { rssBytes: kib(text, 'VmRSS'), hwmBytes: kib(text, 'VmHWM') };
}

function kib(status: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
  if (!match) throw new Error(`/proc status has no ${field}`);
  return Number(match[1]) * 1024;
}

/** User + system CPU time of a process so far, in ms (from /proc/<pid>/stat, clock ticks of 10 ms). */
export async function readCpuMs(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may contain spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After comm, index 0 is field 3 (state); utime is field 14, stime field 15.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** sysconf(_SC_CLK_TCK) is 100 on every Linux architecture Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

export const MiB = 1024 * 1024;
