const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface Spinner {
  update(text: string): void;
  succeed(text: string): void;
  fail(text: string): void;
}

/**
 * A one-line spinner on stderr while something runs. On anything but a terminal it stays
 * silent, so pipes and `--json` output are untouched.
 */
export function startSpinner(text: string, stream: NodeJS.WriteStream = process.stderr): Spinner {
  if (!stream.isTTY) return { update() {}, succeed() {}, fail() {} };
  let frame = 0;
  let current = text;
  const draw = () => stream.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${current}`);
  const timer = setInterval(draw, 80);
  draw();
  const stop = (mark: string, final: string) => {
    clearInterval(timer);
    stream.write(`\r\x1b[2K${mark} ${final}\n`);
  };
  return {
    update: (next) => {
      current = next;
    },
    succeed: (final) => stop('✔', final),
    fail: (final) => stop('✖', final),
  };
}
