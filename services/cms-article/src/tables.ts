export type ArticleStatus = 'draft' | 'published';

export interface ArticleRow {
  service_id: string;
  id: string;
  title: string;
  body: string;
  /** JSON array of the tags, as sent; `cms_article_tags` indexes them. */
  tags: string;
  created_at: number;
  updated_at: number;
  created_by: string | null;
  updated_by: string | null;
  slug: string;
  status: ArticleStatus;
  /** Raised by one on every write; the ETag, and what `If-Match` compares. */
  version: number;
  published_at: number | null;
}

/** One row per tag of an article: the tag filter reads this index, not the JSON column. */
export interface ArticleTagRow {
  service_id: string;
  tag: string;
  article_id: string;
}

export interface Tables {
  cms_articles: ArticleRow;
  cms_article_tags: ArticleTagRow;
}

/** The columns an answer is made of (PostgreSQL's search vector stays in the database). */
export const ARTICLE_COLUMNS = [
  'service_id',
  'id',
  'title',
  'body',
  'tags',
  'created_at',
  'updated_at',
  'created_by',
  'updated_by',
  'slug',
  'status',
  'version',
  'published_at',
] as const;

/** An article as the API and the swarm-data/1 transfer write it. */
export const toArticle = (row: ArticleRow) => ({
  id: row.id,
  slug: row.slug,
  status: row.status,
  title: row.title,
  body: row.body,
  tags: JSON.parse(row.tags) as string[],
  version: Number(row.version),
  created_at: Number(row.created_at),
  updated_at: Number(row.updated_at),
  published_at: row.published_at === null ? null : Number(row.published_at),
  created_by: row.created_by,
  updated_by: row.updated_by,
});
