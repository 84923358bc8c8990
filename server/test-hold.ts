/**
 * Tests only: with FERRY_SERVER_TEST_HOLD=POINT, a command stops itself (SIGSTOP) at POINT
 * after saying so on stderr, so a test can kill it exactly there (crash safety) or let it go
 * on with SIGCONT (races). Does nothing otherwise.
 */
export function testHold(point: string): void {
  if (process.env.FERRY_SERVER_TEST_HOLD !== point) return;
  process.stderr.write(`ferry-server: test hold at ${point}\n`);
  process.kill(process.pid, 'SIGSTOP');
}
