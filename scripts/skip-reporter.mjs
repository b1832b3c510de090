// A node:test reporter that prints nothing while tests run and, at the end, one line per reason
// a test or suite was skipped: `N skipped: <reason>` (run-tests.mjs shows it after the summary).
export default async function* skipReporter(source) {
  const byReason = new Map();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const skip = event.data.skip;
    if (skip === undefined || skip === false) continue;
    const reason = typeof skip === 'string' && skip !== '' ? skip : 'no reason given';
    byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
  }
  for (const [reason, count] of [...byReason].sort((a, b) => b[1] - a[1])) yield `${count} skipped: ${reason}\n`;
}
