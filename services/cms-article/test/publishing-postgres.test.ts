import { publishingSuite } from './publishing-suite.js';

publishingSuite('cms-article publishing on PostgreSQL', 'postgres');
