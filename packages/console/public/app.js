// The console's shell: session, navigation by the address's hash, server-sent events.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get, setCsrf } from './api.js';
import { AppPage, AuditPage, CatalogPage, Confirm, ErrorNote, html, LogsPage, Overview, UsagePage } from './views.js';

function route(hash) {
  const [, page = '', id = '', tab = ''] = hash.split('/');
  return { page, appId: decodeURIComponent(id), tab };
}

function useEvents() {
  const [state, setState] = useState({ instances: {}, operations: new Map(), finished: 0, connected: false });
  useEffect(() => {
    const source = new EventSource('/api/events');
    source.onopen = () => setState((s) => ({ ...s, connected: true }));
    source.onerror = () => setState((s) => ({ ...s, connected: false }));
    source.addEventListener('instances', (event) => {
      const { app_id, records } = JSON.parse(event.data);
      setState((s) => ({ ...s, instances: { ...s.instances, [app_id]: records } }));
    });
    source.addEventListener('operation', (event) => {
      const op = JSON.parse(event.data);
      setState((s) => {
        const operations = new Map(s.operations).set(op.id, op);
        return { ...s, operations, finished: s.finished + (op.status === 'running' ? 0 : 1) };
      });
    });
    return () => source.close();
  }, []);
  return state;
}

function Console() {
  const [session, setSession] = useState(null);
  const [error, setError] = useState(null);
  const [hash, setHash] = useState(location.hash || '#/');
  const [ask, setAsk] = useState(null);
  const events = useEvents();
  useEffect(() => {
    get('/api/session').then((s) => {
      setCsrf(s.csrf);
      setSession(s);
    }, setError);
    const onHash = () => setHash(location.hash || '#/');
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    document.querySelector('main h1')?.focus();
  }, [hash, session]);
  if (error) return html`<main id="main"><h1>Swarm console</h1><${ErrorNote} error=${error} /></main>`;
  if (!session) return html`<main id="main"><h1>Swarm console</h1><p>Loading…</p></main>`;
  const { page, appId, tab } = route(hash);
  const current = appId || session.apps[0];
  const go = (to) => {
    location.hash = to;
  };
  const operations = [...events.operations.values()].reverse();
  const appLink = (suffix, label) => {
    const href = `#/app/${encodeURIComponent(current)}${suffix}`;
    return html`<li><a href=${href} aria-current=${hash === href ? 'page' : undefined}>${label}</a></li>`;
  };
  let body;
  if (page === 'catalog') body = html`<${CatalogPage} session=${session} setAsk=${setAsk} go=${go} />`;
  else if (page === 'app' && tab === 'usage') body = html`<${UsagePage} appId=${appId} />`;
  else if (page === 'app' && tab === 'logs') body = html`<${LogsPage} appId=${appId} />`;
  else if (page === 'app' && tab === 'audit') body = html`<${AuditPage} appId=${appId} />`;
  else if (page === 'app') body = html`<${AppPage} appId=${appId} events=${events} operations=${operations} setAsk=${setAsk} />`;
  else body = html`<${Overview} session=${session} />`;
  return html`<a class="skip" href="#main">Skip to content</a>
    <header>
      <p class="brand">Swarm console <span class=${`live ${events.connected ? 'on' : 'off'}`}>${events.connected ? 'live' : 'offline'}</span></p>
      <nav aria-label="Main"><ul>
        <li><a href="#/" aria-current=${hash === '#/' ? 'page' : undefined}>Namespace</a></li>
        ${appLink('', 'Instances')}${appLink('/usage', 'Usage')}${appLink('/logs', 'Logs')}${appLink('/audit', 'Audit')}
        <li><a href="#/catalog" aria-current=${hash === '#/catalog' ? 'page' : undefined}>Catalog</a></li>
      </ul></nav>
    </header>
    <main id="main" tabindex="-1">${body}</main>
    <${Confirm} ask=${ask} onClose=${() => setAsk(null)} />`;
}

const root = document.getElementById('root');
// The loading note is plain HTML, there before the modules run; Preact takes the element over.
root.textContent = '';
render(html`<${Console} />`, root);
