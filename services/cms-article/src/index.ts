import { LOCAL_REGIONS, LOCAL_TIERS, type ServiceHandle, type ServiceOptions, startService } from '@swarm/service-kit';
import { articlesDomain } from './articles.js';

export type CmsArticleOptions = Omit<ServiceOptions, 'provider' | 'serviceType' | 'tiers' | 'regions'> &
  Partial<Pick<ServiceOptions, 'provider' | 'tiers' | 'regions'>>;

/** Starts the `cms-article` service (provider `article.cms.local` unless told otherwise). */
export function startCmsArticle(options: CmsArticleOptions): Promise<ServiceHandle> {
  return startService(
    {
      provider: 'article.cms.local',
      tiers: LOCAL_TIERS,
      regions: LOCAL_REGIONS,
      description: 'Articles: title, body and tags, per app instance',
      ...options,
      serviceType: 'cms-article',
    },
    articlesDomain,
  );
}

export { ArticleInput, articlesDomain } from './articles.js';
