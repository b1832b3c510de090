import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { terminalSafe } from '../src/cli/output.js';

describe('terminalSafe: peer text printed to a terminal', () => {
  it('shows escape sequences, carriage returns and bidi controls as visible escapes', () => {
    assert.equal(terminalSafe('ok\x1b]0;pwned\x07'), 'ok\\u{1b}]0;pwned\\u{7}');
    assert.equal(terminalSafe('line\rfake'), 'line\\u{d}fake');
    assert.equal(terminalSafe('a\u202eb'), 'a\\u{202e}b');
    assert.equal(terminalSafe('two\nlines\tand a tab'), 'two\nlines\tand a tab');
  });

  it('leaves no control character but newline and tab in any text (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        assert.doesNotMatch(terminalSafe(text), /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
      }),
    );
  });
});
