/**
 * m3web's search box for a static site: `import 'm3web/ui'` defines `<m3web-search>` (see
 * M3WebSearchElement), over the public API alone.
 *
 * @example
 * <script type="module">import 'm3web/ui';</script>
 * <m3web-search index="/search-index/" model="/models/m3-mini/" placeholder="Search the docs"></m3web-search>
 */
import { defineSearchElement } from './search-element.js';

export { groupByPage, type PageGroup, sectionTitle } from './group-hits.js';
export { markedNodes } from './marked-text.js';
export { defineSearchElement, M3WebSearchElement, type SearchMessages } from './search-element.js';

defineSearchElement();
