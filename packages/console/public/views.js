// The console's pages. Each reads through api.js; nothing here holds a key or signs.
import htm from 'htm';
import { h } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { appPath, get, hintFor, post } from './api.js';

export const html = htm.bind(h);

const time = (seconds) => (seconds ? new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 19) : '—');
const short = (key) => (key ? `${key.slice(0, 20)}…${key.slice(-6)}` : '—');

export function ErrorNote({ error }) {
  if (!error) return null;
  const hint = hintFor(error.code);
  return html`<p class="error" role="alert"><strong>${error.code}</strong>: ${error.message}${hint ? html`<br />hint: ${hint}` : ''}</p>`;
}

/** Fetches `path` whenever `deps` change; `reload()` fetches again. */
function useData(path, deps = []) {
  const [state, setState] = useState({ data: null, error: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    get(path).then(
      (data) => live && setState({ data, error: null }),
      (error) => live && setState({ data: null, error }),
    );
    return () => {
      live = false;
    };
  }, [path, tick, ...deps]);
  return { ...state, reload: () => setTick((n) => n + 1) };
}

/** A modal question before every signing action: nothing is signed without this second click. */
export function Confirm({ ask, onClose }) {
  const ref = useRef(null);
  useEffect(() => {
    if (ask && ref.current && !ref.current.open) ref.current.showModal();
  }, [ask]);
  if (!ask) return null;
  const close = (yes) => {
    ref.current?.close();
    onClose();
    if (yes) ask.onYes();
  };
  return html`<dialog ref=${ref} aria-labelledby="confirm-title" onCancel=${() => onClose()}>
    <h2 id="confirm-title">${ask.title}</h2>
    <p>${ask.text}</p>
    <p class="note">The console process signs this with your key.</p>
    <div class="buttons">
      <button type="button" class="primary" onClick=${() => close(true)}>${ask.yes}</button>
      <button type="button" onClick=${() => close(false)}>Cancel</button>
    </div>
  </dialog>`;
}

export function Overview({ session }) {
  const ns = session.namespace;
  return html`<section aria-labelledby="ns-title">
    <h1 id="ns-title">Namespace ${ns.namespace}</h1>
    <dl class="facts">
      <dt>Status</dt><dd>${ns.status}</dd>
      <dt>Master key</dt><dd><code title=${ns.public_key}>${short(ns.public_key)}</code></dd>
      <dt>Signing with</dt><dd><code title=${session.public_key}>${short(session.public_key)}</code>${session.public_key === ns.public_key ? ' (the Master key)' : ' (a delegated key)'}</dd>
      <dt>Guardian keys</dt><dd>${ns.guardian_public_keys.map((key) => html`<code title=${key}>${short(key)}</code> `)}</dd>
      <dt>Claimed</dt><dd>${time(ns.created_at)}</dd>
      <dt>Last key change</dt><dd>${session.last_rotation ? `${time(session.last_rotation.at)} (${session.last_rotation.event.replaceAll('_', ' ')})` : 'never'}</dd>
    </dl>
    <h2>Apps</h2>
    <ul class="apps">${session.apps.map((id) => html`<li><a href=${`#/app/${encodeURIComponent(id)}`}>${id}</a></li>`)}</ul>
  </section>`;
}

export function AppPage({ appId, events, operations, setAsk }) {
  const { data, error, reload } = useData(appPath(appId), [events.finished]);
  const [failure, setFailure] = useState(null);
  const services = events.instances[appId] ?? data?.services ?? [];
  const ops = operations.filter((op) => op.app_id === appId);
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!data) return html`<p>Loading…</p>`;
  const app = data.app;
  const decommission = (record) =>
    setAsk({
      title: `Decommission ${record.service_id}?`,
      text: `The provider wipes its data and the registry revokes it. This cannot be undone.`,
      yes: 'Decommission',
      onYes: () => post(`${appPath(appId)}/decommission`, { service_id: record.service_id }).then(reload, setFailure),
    });
  return html`<section aria-labelledby="app-title">
    <h1 id="app-title">${app.display_name} <small>${app.app_id}</small></h1>
    <h2>Operational context</h2>
    <dl class="facts">
      <dt>Epoch</dt><dd>${app.config_epoch}</dd>
      <dt>Auth Provider</dt><dd>${app.auth?.auth_provider_url ?? 'none'}</dd>
      <dt>Billing</dt><dd>${app.billing_provider_url ?? 'none'}</dd>
      <dt>Logging</dt><dd>${app.logging_service_url ?? 'none'}</dd>
      <dt>Status</dt><dd>${app.status}</dd>
    </dl>
    <h2 id="instances-title">Instances (${services.length})</h2>
    <${ErrorNote} error=${failure} />
    <div class="scroll" tabindex="0" role="region" aria-labelledby="instances-title">
      <table class="instances">
        <thead><tr><th scope="col">Instance</th><th scope="col">Type</th><th scope="col">Provider</th><th scope="col">Tier</th><th scope="col">Region</th><th scope="col">Storage</th><th scope="col">Endpoint</th><th scope="col">Health</th><th scope="col">Last beat</th><th scope="col">Since</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
        <tbody>${services.map(
          (r) => html`<tr data-service=${r.service_id}>
            <th scope="row">${r.service_id}</th><td>${r.service_type}</td><td>${r.provider}</td><td>${r.service_tier}</td>
            <td>${r.region}</td><td>${r.storage_limit_gb} GB</td><td><code>${r.endpoint_url}</code></td>
            <td><span class=${`health ${r.health ?? 'unknown'}`}>${r.health ?? 'unknown'}</span></td>
            <td>${time(r.last_heartbeat_at)}</td><td>${time(r.health_changed_at)}</td>
            <td><button type="button" class="danger" onClick=${() => decommission(r)} aria-label=${`Decommission ${r.service_id}`}>Decommission</button></td>
          </tr>`,
        )}</tbody>
      </table>
    </div>
    <h2>Operations</h2>
    ${ops.length === 0 ? html`<p>None since the console started.</p>` : html`<ul class="operations">${ops.map((op) => html`<${OperationItem} op=${op} />`)}</ul>`}
    <${Broadcasts} broadcasts=${data.broadcasts} />
    <${BackboneForm} appId=${appId} app=${app} setAsk=${setAsk} />
  </section>`;
}

/** The registry's notices to the app's instances still pending, and those that gave up (dead letters). */
function Broadcasts({ broadcasts }) {
  const rows = [...broadcasts.pending, ...broadcasts.dead];
  return html`<h2 id="broadcasts-title">Registry broadcasts</h2>
    <p>${broadcasts.pending.length} pending, ${broadcasts.dead.length} failed (dead letters; \`swarm broadcasts retry\` sends them again).</p>
    ${
      rows.length === 0
        ? ''
        : html`<div class="scroll" tabindex="0" role="region" aria-labelledby="broadcasts-title">
          <table class="broadcasts"><thead><tr><th scope="col">State</th><th scope="col">To</th><th scope="col">Attempts</th><th scope="col">Created</th><th scope="col">Last error</th></tr></thead>
          <tbody>${rows.map((b) => html`<tr><td><span class=${`state ${b.state}`}>${b.state}</span></td><td><code>${b.url}</code></td><td>${b.attempts}</td><td>${time(b.created_at)}</td><td>${b.last_error ?? '—'}</td></tr>`)}</tbody></table>
        </div>`
    }`;
}

function OperationItem({ op }) {
  return html`<li class=${`op ${op.status}`} data-operation=${op.kind}>
    <strong>${op.kind}</strong> ${op.target}: <span class="status">${op.status}</span> ${op.status === 'running' ? `(${op.progress})` : ''}
    ${op.error ? html`<${ErrorNote} error=${op.error} />` : ''}
    ${op.kind === 'decommission' && op.result?.receipt ? html`<details><summary>Termination receipt</summary><pre class="receipt" tabindex="0">${JSON.stringify(op.result.receipt, null, 2)}</pre></details>` : ''}
    ${op.kind === 'provision' && op.result ? html` → ${op.result.service_id} ${op.result.status}` : ''}
  </li>`;
}

function BackboneForm({ appId, app, setAsk }) {
  const [failure, setFailure] = useState(null);
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const body = {};
    if (form.get('billing')) body.billing_url = String(form.get('billing'));
    if (form.get('logging')) body.logging_url = String(form.get('logging'));
    setAsk({
      title: 'Update the backbone?',
      text: `Billing ${body.billing_url ?? '(unchanged)'}, Logging ${body.logging_url ?? '(unchanged)'}. The app's epoch goes up.`,
      yes: 'Update',
      onYes: () => post(`${appPath(appId)}/backbone`, body).catch(setFailure),
    });
  };
  return html`<form class="backbone" onSubmit=${submit}>
    <h2>Backbone update</h2>
    <${ErrorNote} error=${failure} />
    <label>Billing URL <input name="billing" type="url" placeholder=${app.billing_provider_url ?? ''} /></label>
    <label>Logging URL <input name="logging" type="url" placeholder=${app.logging_service_url ?? ''} /></label>
    <button type="submit">Update backbone…</button>
  </form>`;
}

export function CatalogPage({ session, setAsk, go }) {
  const { data, error } = useData('/api/catalog');
  const [failure, setFailure] = useState(null);
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!data) return html`<p>Loading…</p>`;
  const order = (entry) => (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const appId = String(form.get('app'));
    const body = {
      service_type: entry.service_type,
      provider: entry.provider,
      tier: String(form.get('tier')),
      region: String(form.get('region')),
    };
    if (form.get('storage')) body.storage_gb = Number(form.get('storage'));
    setAsk({
      title: `Provision ${entry.service_type}?`,
      text: `${entry.provider}, tier ${body.tier}, region ${body.region}${body.storage_gb === undefined ? '' : `, ${body.storage_gb} GB`}, for ${appId}.`,
      yes: 'Provision',
      onYes: () => post(`${appPath(appId)}/provision`, body).then(() => go(`#/app/${encodeURIComponent(appId)}`), setFailure),
    });
  };
  return html`<section aria-labelledby="catalog-title">
    <h1 id="catalog-title">Catalog</h1>
    <${ErrorNote} error=${failure} />
    ${data.services.map((entry) => {
      const id = `offer-${entry.provider.replace(/[^a-z0-9]/g, '-')}`;
      return html`<article class="offer" aria-labelledby=${id}>
        <h2 id=${id}>${entry.service_type} <small>${entry.provider}</small></h2>
        <p>${entry.description}</p>
        <div class="scroll" tabindex="0" role="region" aria-label=${`Tiers of ${entry.provider}`}>
          <table><thead><tr><th scope="col">Tier</th><th scope="col">Storage (GB)</th><th scope="col">Default</th></tr></thead>
          <tbody>${entry.tiers.map((t) => html`<tr><th scope="row">${t.name}</th><td>${t.storage_limit_gb_max}</td><td>${t.storage_limit_gb_default}</td></tr>`)}</tbody></table>
        </div>
        <p>Regions: ${entry.regions.join(', ')}</p>
        ${
          entry.service_type === 'auth'
            ? ''
            : html`<form class="provision" onSubmit=${order(entry)} aria-label=${`Provision ${entry.service_type} from ${entry.provider}`}>
          <label>App <select name="app">${session.apps.map((a) => html`<option value=${a}>${a}</option>`)}</select></label>
          <label>Tier <select name="tier">${entry.tiers.map((t) => html`<option value=${t.name}>${t.name}</option>`)}</select></label>
          <label>Region <select name="region">${entry.regions.map((r) => html`<option value=${r}>${r}</option>`)}</select></label>
          <label>Storage GB <input name="storage" type="number" min="0" step="1" inputmode="numeric" /></label>
          <button type="submit" class="primary">Provision…</button>
        </form>`
        }
      </article>`;
    })}
  </section>`;
}

export function UsagePage({ appId }) {
  const [tick, setTick] = useState(0);
  const { data, error } = useData(`${appPath(appId)}/usage`, [tick]);
  useEffect(() => {
    const timer = setInterval(() => setTick((n) => n + 1), 5000);
    return () => clearInterval(timer);
  }, []);
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!data) return html`<p>Loading…</p>`;
  const { summary, samples } = data;
  return html`<section aria-labelledby="usage-title">
    <h1 id="usage-title">Usage</h1>
    <p>${summary.reports} reports${summary.period ? `, ${time(summary.period.start)} to ${time(summary.period.end)}` : ''}.</p>
    <${Chart} samples=${samples} />
    <h2 id="per-instance">Per instance</h2>
    <div class="scroll" tabindex="0" role="region" aria-labelledby="per-instance">
      <table class="usage"><thead><tr><th scope="col">Instance</th><th scope="col">Metric</th><th scope="col">Total</th></tr></thead>
      <tbody>${summary.totals.map((t) => html`<tr><th scope="row">${t.service_id}</th><td>${t.metric}</td><td>${t.value}</td></tr>`)}</tbody></table>
    </div>
    <h2>Whole app</h2>
    <ul>${summary.app_totals.map((t) => html`<li>${t.metric}: <strong>${t.value}</strong></li>`)}</ul>
  </section>`;
}

/** Totals over time, as the console sampled Billing while it ran (Billing answers totals only). */
function Chart({ samples }) {
  const ref = useRef(null);
  useEffect(() => {
    if (!ref.current) return undefined;
    const metrics = [...new Set(samples.flatMap((s) => Object.keys(s.metrics)))].sort();
    const colors = ['#0b5cad', '#a23b00', '#2f6b2f', '#6a2c91'];
    const data = [samples.map((s) => s.at), ...metrics.map((m) => samples.map((s) => s.metrics[m] ?? null))];
    const width = Math.max(280, Math.min(900, ref.current.clientWidth || 600));
    const plot = new uPlot(
      {
        width,
        height: 240,
        series: [{}, ...metrics.map((m, i) => ({ label: m, stroke: colors[i % colors.length], width: 2, points: { show: true } }))],
        axes: [{}, { label: 'total' }],
      },
      data,
      ref.current,
    );
    // A few samples seconds apart would otherwise spread over years: show at least the last minute.
    const last = data[0].at(-1);
    if (last !== undefined) plot.setScale('x', { min: Math.min(data[0][0], last - 60), max: last + 5 });
    return () => plot.destroy();
  }, [JSON.stringify(samples)]);
  return html`<figure class="chart"><div ref=${ref} role="img" aria-label="Usage totals over time"></div>
    <figcaption>Totals over time (sampled while the console runs)</figcaption></figure>`;
}

export function LogsPage({ appId }) {
  const [filter, setFilter] = useState({});
  const [tail, setTail] = useState(false);
  const [tick, setTick] = useState(0);
  const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== '' && v !== undefined)).toString();
  const { data, error } = useData(`${appPath(appId)}/logs${query ? `?${query}` : ''}`, [tick]);
  const instances = useData(appPath(appId)).data?.services ?? [];
  useEffect(() => {
    if (!tail) return undefined;
    const timer = setInterval(() => setTick((n) => n + 1), 2000);
    return () => clearInterval(timer);
  }, [tail]);
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const since = form.get('since') ? String(Math.floor(Date.parse(`${form.get('since')}Z`) / 1000)) : '';
    setFilter({ level: form.get('level'), service_id: form.get('service'), text: form.get('text'), since });
  };
  return html`<section aria-labelledby="logs-title">
    <h1 id="logs-title">Logs</h1>
    <form class="filters" onSubmit=${submit} aria-label="Log filters">
      <label>Level <select name="level"><option value="">any</option>${['debug', 'info', 'warn', 'error', 'fatal'].map((l) => html`<option>${l}</option>`)}</select></label>
      <label>Instance <select name="service"><option value="">any</option>${instances.map((r) => html`<option>${r.service_id}</option>`)}</select></label>
      <label>Since (UTC) <input name="since" type="datetime-local" /></label>
      <label>Text <input name="text" type="search" maxlength="200" /></label>
      <button type="submit">Filter</button>
      <label class="inline"><input type="checkbox" checked=${tail} onChange=${(e) => setTail(e.currentTarget.checked)} /> Live tail</label>
    </form>
    <${ErrorNote} error=${error} />
    <div class="scroll" tabindex="0" role="region" aria-label="Log entries" aria-live=${tail ? 'polite' : 'off'}>
      <table class="logs"><thead><tr><th scope="col">Time</th><th scope="col">Level</th><th scope="col">Instance</th><th scope="col">Message</th></tr></thead>
      <tbody>${(data?.entries ?? []).map((e) => html`<tr><td>${time(e.at)}</td><td><span class=${`level ${e.level}`}>${e.level}</span></td><td>${e.service_id}</td><td>${e.message}</td></tr>`)}</tbody></table>
    </div>
    <p>${data ? `${data.entries.length} entries` : ''}</p>
  </section>`;
}

export function AuditPage({ appId }) {
  const { data, error } = useData(`${appPath(appId)}/audit`);
  if (error) return html`<${ErrorNote} error=${error} />`;
  if (!data) return html`<p>Loading…</p>`;
  const { chain, entries } = data;
  return html`<section aria-labelledby="audit-title">
    <h1 id="audit-title">Audit log</h1>
    ${
      chain.ok
        ? html`<p class="chain ok" role="status">Hash chain verified: ${entries.length} entries.</p>`
        : html`<p class="chain broken" role="alert">Hash chain BROKEN at seq ${chain.seq}: ${chain.reason}</p>`
    }
    <ol class="timeline">${entries.map(
      ({ entry, link }) => html`<li class=${`link-${link}`}>
        <details>
          <summary><span class="seq">#${entry.seq}</span> ${time(entry.at)} <strong>${entry.event}</strong> <span class=${`badge ${link}`}>${link}</span></summary>
          <pre tabindex="0">${JSON.stringify(entry, null, 2)}</pre>
        </details>
      </li>`,
    )}</ol>
  </section>`;
}
