/** Facts about the machine a benchmark ran on, for its report. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly os: string;
  readonly memGiB: number;
}

export function machineInfo(): MachineInfo {
  let cores = cpus().length;
  try {
    cores = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || cores;
  } catch {
    // keep os.cpus()
  }
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  let memGiB = 0;
  try {
    cpuModel = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpuModel;
    const kb = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);
    memGiB = kb / (1024 * 1024);
  } catch {
    // not Linux
  }
  let os = `${process.platform} ${process.arch}`;
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
    if (pretty) os = `${pretty} ${process.arch}`;
  } catch {
    // keep platform
  }
  return { cores, cpuModel, node: process.version, os, memGiB };
}

