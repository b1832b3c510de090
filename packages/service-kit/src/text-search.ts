/** Words a search may hold: more would only make a slower query, not a better one. */
export const MAX_SEARCH_WORDS = 16;

/**
 * The words of a search, as both indexes see them: runs of letters and digits, lowercased.
 * SQLite's FTS5 (`unicode61`, diacritics kept) and PostgreSQL's `simple` configuration over
 * text whose other characters became spaces split text the same way, so this one rule is
 * what both databases match: a query of quotes or operators is only words to either. A query
 * without words (`%`, `!!`) has none: it finds nothing.
 */
export function searchWords(q: string): string[] {
  return (
    q
      .normalize('NFC')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  ).slice(0, MAX_SEARCH_WORDS);
}

/** An FTS5 MATCH expression: every word (quoted, so never an operator), each a prefix when `prefix`. */
export function fts5Match(words: readonly string[], prefix: boolean): string {
  return words.map((word) => `"${word}"${prefix ? '*' : ''}`).join(' ');
}

/** A PostgreSQL `to_tsquery('simple', …)` text: every word, each a prefix when `prefix`. Words hold only letters and digits. */
export function tsQuery(words: readonly string[], prefix: boolean): string {
  return words.map((word) => `${word}${prefix ? ':*' : ''}`).join(' & ');
}

/** The SQL expression PostgreSQL indexes for a search: every non-alphanumeric run becomes a space (emails split into words). */
export function tsVectorSql(columns: readonly string[]): string {
  const text = columns.map((column) => `coalesce(${column}, '')`).join(` || ' ' || `);
  return `to_tsvector('simple'::regconfig, regexp_replace(${text}, '[^[:alnum:]]+', ' ', 'g'))`;
}
