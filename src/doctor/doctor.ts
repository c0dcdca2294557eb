import { CHECKS, USER_CHECKS } from './checks';
import { parseOptions, USAGE, UsageError, type DoctorArgs } from './options';
import type { CheckResult } from './result';
import { gather } from './system-instance';
import { gatherUser } from './user-instance';

const LABEL: Record<CheckResult['status'], string> = { pass: 'PASS', fail: 'FAIL', 'n/a': 'N/A ' };

function render(results: CheckResult[], userInstance: boolean): string {
  const lines = [userInstance ? 'trl doctor --user: your own instance (docs/doctor.md)' : 'trl doctor: the deployment checklist (docs/doctor.md)', ''];
  for (const r of results) {
    lines.push(`${LABEL[r.status]}  ${r.title}: ${r.detail}`);
    if (r.fix && r.status !== 'pass') lines.push(`      ${r.status === 'fail' ? 'fix' : 'note'}: ${r.fix}`);
  }
  const failed = results.filter((r) => r.status === 'fail').length;
  lines.push('', failed ? `${failed} check${failed > 1 ? 's' : ''} failed.` : 'No check failed.');
  return lines.join('\n') + '\n';
}

/** `trl doctor`: prints the report and returns the exit status (1 if any check failed, 2 on a usage error). */
export async function runDoctor(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  let opts: DoctorArgs | 'help';
  try {
    opts = parseOptions(argv, process.env);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err.write(`trl doctor: ${e.message}\n${USAGE}`);
    return 2;
  }
  if (opts === 'help') {
    out.write(USAGE);
    return 0;
  }
  let results: CheckResult[];
  if (opts.userInstance) {
    const ctx = await gatherUser(opts);
    results = USER_CHECKS.map((check) => check(ctx));
  } else {
    const ctx = await gather(opts);
    results = CHECKS.map((check) => check(ctx));
  }
  const failed = results.filter((r) => r.status === 'fail').length;
  if (opts.json) {
    const summary = { pass: 0, fail: 0, 'n/a': 0 };
    for (const r of results) summary[r.status]++;
    out.write(JSON.stringify({ ok: failed === 0, checks: results, summary }, null, 2) + '\n');
  } else {
    out.write(render(results, opts.userInstance));
  }
  return failed ? 1 : 0;
}
