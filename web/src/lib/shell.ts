// POSIX shell quoting, the same as the CLI's shell_quote (cli/output.cpp): words made only of
// characters no shell treats specially stay bare; anything else goes in single quotes, with
// each ' written as '\'' so the result pastes into sh, bash or zsh as one word.

const SAFE = /^[A-Za-z0-9@%+=:,./_-]+$/;

/// One shell word holding `s` exactly.
export function shellQuote(s: string): string {
  if (SAFE.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/// A command line from its words, each quoted as needed.
export function shellJoin(words: readonly string[]): string {
  return words.map(shellQuote).join(' ');
}
