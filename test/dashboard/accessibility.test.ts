import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import type { Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor, waitForJob } from '../helpers/system.ts';
import { APPROVER, OPERATOR, serveDashboard, VIEWER, type DashboardServer } from './serve.ts';

/**
 * The dashboard is usable without sight and without a mouse:
 * - axe-core (WCAG 2.0 and 2.1, A and AA, and axe's best practices) finds no serious or critical
 *   violation on any page, in light and in dark colours (contrast is checked in both);
 * - each page has exactly one level-one heading;
 * - Tab reaches every control on a page (links, buttons, form fields, and anything that listens
 *   for a click), each is one that Enter or Space operates, and each shows where focus is;
 * - the actions themselves (enqueue, Cancel, Retry, Approve, Reject, sign in, the navigation)
 *   work from the keyboard alone.
 * A new page is one more entry in PAGES.
 */
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];
const FAILING_IMPACTS = new Set(['serious', 'critical']);

/** What the pages show, made once before the tests. */
interface Seeded {
  completed: string;
  /** A completed job whose input and timeline are longer than their boxes: they scroll. */
  long: string;
  failed: string;
  running: string;
  /** A report-testing run waiting at its first gate (scopingSignOff). */
  atScoping: string;
  /** A run past its first gate, waiting at its results sign-off: the review has every table. */
  atResults: string;
  /** The name of a schedule (nightly: it does not fire during the tests). */
  schedule: string;
}

interface PageCase {
  name: string;
  /** The path after /dashboard. */
  path: (seeded: Seeded) => string;
  /** Signed in as; none: the token prompt. */
  token?: string;
  /** Waits until the page shows what it is for (not its loading state); may act on it first. */
  ready: (page: Page, seeded: Seeded) => Promise<void>;
}

const live = (page: Page) => page.getByText('● live').waitFor();
const jobHead = (page: Page) => page.locator('section[aria-labelledby="job-title"]');

/** Every page of the dashboard (src/dashboard/components/App/App.tsx), in the states worth checking. */
const PAGES: PageCase[] = [
  { name: 'the token prompt', path: () => '/', ready: (page) => page.getByLabel('API token').waitFor() },
  {
    name: 'the token prompt, after a wrong token',
    path: () => '/',
    ready: async (page) => {
      await page.getByLabel('API token').fill('not-a-token');
      await page.getByRole('button', { name: 'Use this token' }).click();
      await page.getByRole('alert').waitFor();
    },
  },
  {
    name: 'the overview',
    path: () => '/',
    token: OPERATOR,
    ready: async (page) => {
      await live(page);
      await page.getByRole('region', { name: 'Workers' }).locator('tbody tr').first().waitFor();
      await page.getByRole('table', { name: 'Jobs per task and status' }).waitFor();
      await page.getByRole('img', { name: /^Throughput over the last hour/ }).waitFor();
    },
  },
  {
    name: 'the job list',
    path: () => '/jobs',
    token: OPERATOR,
    ready: async (page) => {
      await live(page);
      await page.locator('tbody tr').first().waitFor();
      await page.getByRole('status').filter({ hasText: /jobs?$/ }).waitFor();
    },
  },
  {
    name: 'the job list, jobs selected, a bulk retry to confirm',
    path: () => '/jobs',
    token: OPERATOR,
    ready: async (page) => {
      await live(page);
      await page.locator('tbody tr').first().waitFor();
      await page.getByRole('checkbox', { name: 'Select every job shown' }).check();
      await page.getByRole('button', { name: 'Retry selected' }).click();
      await page.getByTestId('bulk-confirm').waitFor();
    },
  },
  {
    name: 'a completed job',
    path: ({ completed }) => `/jobs/${completed}`,
    token: OPERATOR,
    ready: async (page) => {
      await live(page);
      await jobHead(page).getByText('COMPLETED', { exact: true }).waitFor();
      await page.getByRole('list', { name: 'Job events' }).getByRole('listitem').first().waitFor();
    },
  },
  {
    name: 'a job whose input and timeline scroll',
    path: ({ long }) => `/jobs/${long}`,
    token: OPERATOR,
    ready: async (page) => {
      await live(page);
      await jobHead(page).getByText('COMPLETED', { exact: true }).waitFor();
      await expect.poll(() => page.getByRole('list', { name: 'Job events' }).evaluate((list) => list.scrollHeight > list.clientHeight)).toBe(true);
    },
  },
  {
    name: 'a failed job, with its error and Retry',
    path: ({ failed }) => `/jobs/${failed}`,
    token: OPERATOR,
    ready: async (page) => {
      await live(page);
      await jobHead(page).getByText('FAILED', { exact: true }).waitFor();
      await page.getByRole('region', { name: 'Attempts' }).getByText(/^final:/).waitFor();
      await page.getByRole('button', { name: 'Retry' }).waitFor();
    },
  },
  {
    name: 'a running job, with Cancel',
    path: ({ running }) => `/jobs/${running}`,
    token: OPERATOR,
    ready: async (page) => {
      await live(page);
      await page.getByRole('button', { name: 'Cancel' }).waitFor();
    },
  },
  {
    name: 'no such job',
    path: () => '/jobs/00000000-0000-7000-8000-000000000000',
    token: OPERATOR,
    ready: (page) => page.getByRole('heading', { name: 'No such job' }).waitFor(),
  },
  {
    name: 'the enqueue form',
    path: () => '/enqueue',
    token: OPERATOR,
    ready: async (page) => {
      await expect.poll(() => page.getByLabel('Input (JSON)').inputValue()).toContain('{');
    },
  },
  {
    name: 'the enqueue form, to a viewer',
    path: () => '/enqueue',
    token: VIEWER,
    ready: (page) => page.getByText(/is a viewer: enqueuing needs an operator/).waitFor(),
  },
  {
    name: 'the runs',
    path: () => '/runs',
    token: OPERATOR,
    ready: async (page) => {
      await page.getByRole('region', { name: 'Runs' }).locator('tbody tr').first().waitFor();
      await expect.poll(() => page.getByRole('button', { name: 'Start testing' }).isEnabled()).toBe(true);
    },
  },
  {
    name: 'a run at its first sign-off, to its operator',
    path: ({ atScoping }) => `/runs/${atScoping}`,
    token: OPERATOR,
    ready: async (page) => {
      await page.getByRole('region', { name: 'Sign-off: scopingSignOff' }).getByText('An approver decides this gate.').waitFor();
      await page.getByRole('region', { name: 'Attributes, mappings and scope' }).waitFor();
    },
  },
  {
    name: 'a run at its results sign-off, to an approver',
    path: ({ atResults }) => `/runs/${atResults}`,
    token: APPROVER,
    ready: async (page) => {
      await page.getByRole('region', { name: 'Sign-off: resultsSignOff' }).getByRole('button', { name: 'Approve' }).waitFor();
      await page.getByRole('region', { name: 'Dataset profile' }).waitFor();
      await page.getByRole('region', { name: 'Test results' }).locator('tbody tr').first().waitFor();
      await page.getByRole('region', { name: 'History' }).getByRole('listitem').first().waitFor();
    },
  },
  {
    name: 'the schedules',
    path: () => '/schedules',
    token: OPERATOR,
    ready: async (page, { schedule }) => {
      await page.getByRole('region', { name: 'Schedules' }).getByRole('row', { name: new RegExp(schedule) }).waitFor();
      await page.getByRole('region', { name: 'New schedule' }).waitFor();
    },
  },
  {
    name: 'no such run',
    path: () => '/runs/00000000-0000-7000-8000-000000000000',
    token: OPERATOR,
    ready: (page) => page.getByRole('heading', { name: 'No such run' }).waitFor(),
  },
  { name: 'a path that is no page', path: () => '/nothing-here', token: OPERATOR, ready: (page) => page.getByText('Nothing here.').waitFor() },
];

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/** axe-core's serious and critical violations on the page as it is now. */
async function audit(page: Page): Promise<Violation[]> {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async (tags) => {
    const results = await (window as any).axe.run(document, { runOnly: tags, resultTypes: ['violations'] });
    return (results.violations as any[]).map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: (v.nodes as any[]).map((n) => `${n.target.join(' ')}${n.any[0]?.message ? ` (${n.any[0].message})` : ''}`) }));
  }, AXE_TAGS);
  return violations.filter((v) => FAILING_IMPACTS.has(v.impact ?? ''));
}

const describeViolations = (violations: Violation[]) =>
  violations.map((v) => `${v.id} [${v.impact}] ${v.help}\n${v.targets.map((t) => `    ${t}`).join('\n')}`).join('\n');

/** A control as a failure message names it. */
interface Control {
  index: number;
  label: string;
  /** Operated by Enter or Space: a native control, or a role with a key handler. */
  operable: boolean;
}

/** Event types by which an element acts on a pointer, and those by which it acts on a key. */
const POINTER_EVENTS = new Set(['click', 'mousedown', 'mouseup', 'pointerdown', 'pointerup', 'dblclick']);
const KEY_EVENTS = new Set(['keydown', 'keyup', 'keypress']);

/**
 * Numbers (data-a11y-id) every visible control on the page: the natively focusable ones and any
 * element that listens for a pointer (a <div onClick> is found by its listener, through the
 * DevTools protocol, since Preact adds listeners with addEventListener).
 */
async function markControls(page: Page): Promise<Control[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    await cdp.send('DOM.getDocument', { depth: 0 });
    const { result } = await cdp.send('Runtime.evaluate', { expression: 'document' });
    const { listeners } = await cdp.send('DOMDebugger.getEventListeners', { objectId: result.objectId!, depth: -1, pierce: true });
    const byNode = new Map<number, Set<string>>();
    for (const listener of listeners) {
      if (listener.backendNodeId === undefined) continue;
      const types = byNode.get(listener.backendNodeId) ?? new Set<string>();
      types.add(listener.type);
      byNode.set(listener.backendNodeId, types);
    }
    for (const [backendNodeId, types] of byNode) {
      const pointer = [...types].some((type) => POINTER_EVENTS.has(type));
      const key = [...types].some((type) => KEY_EVENTS.has(type));
      if (!pointer && !key) continue;
      const { object } = await cdp.send('DOM.resolveNode', { backendNodeId });
      await cdp.send('Runtime.callFunctionOn', {
        objectId: object.objectId!,
        functionDeclaration: `function (pointer, key) { if (this.nodeType !== 1 || this === document.body || this === document.documentElement) return; if (pointer) this.setAttribute('data-a11y-pointer', ''); if (key) this.setAttribute('data-a11y-key', ''); }`,
        arguments: [{ value: pointer }, { value: key }],
      });
    }
  } finally {
    await cdp.detach();
  }
  return page.evaluate(() => {
    const NATIVE = 'a[href], button, input:not([type="hidden"]), select, textarea, summary, [contenteditable=""], [contenteditable="true"]';
    const candidates = document.querySelectorAll<HTMLElement>(`${NATIVE}, [tabindex]:not([tabindex="-1"]), [data-a11y-pointer]`);
    const controls: { index: number; label: string; operable: boolean }[] = [];
    for (const element of candidates) {
      if ((element as HTMLButtonElement).disabled) continue; // not focusable by design
      if (!element.checkVisibility({ visibilityProperty: true }) || element.getClientRects().length === 0) continue;
      // A click on a control inside another control (a link's <code>) is the outer one's.
      if (!element.matches(NATIVE) && element.parentElement?.closest(NATIVE)) continue;
      const index = controls.length;
      element.setAttribute('data-a11y-id', String(index));
      const text = (element.getAttribute('aria-label') ?? element.textContent ?? '').trim().replace(/\s+/g, ' ').slice(0, 40);
      const role = element.getAttribute('role');
      const scroller = /auto|scroll/.test(getComputedStyle(element).overflowY + getComputedStyle(element).overflowX); // the arrow keys scroll it
      const operable = element.matches(NATIVE) || scroller || (role !== null && element.hasAttribute('data-a11y-key'));
      controls.push({ index, label: `<${element.tagName.toLowerCase()}${element.className ? ` class="${element.className}"` : ''}> ${text}`, operable });
    }
    // A box that scrolls is scrolled by the keyboard from a control inside it or, with none, by
    // having the focus itself (and the arrow keys).
    for (const element of document.querySelectorAll<HTMLElement>('body *')) {
      const style = getComputedStyle(element);
      const scrolls =
        (/auto|scroll/.test(style.overflowY) && element.scrollHeight > element.clientHeight) || (/auto|scroll/.test(style.overflowX) && element.scrollWidth > element.clientWidth);
      if (!scrolls || element.hasAttribute('data-a11y-id') || element.querySelector('[data-a11y-id]')) continue;
      const index = controls.length;
      element.setAttribute('data-a11y-id', String(index));
      controls.push({ index, label: `scrolling <${element.tagName.toLowerCase()}> ${element.getAttribute('aria-label') ?? ''}`, operable: true });
    }
    return controls;
  });
}

/**
 * Presses Tab from the top of the page until focus leaves it or comes round again; the
 * data-a11y-id of each element focused on the way, and those of them that showed no outline.
 */
async function tabThrough(page: Page): Promise<{ reached: number[]; unmarked: string[]; noOutline: number[] }> {
  await page.evaluate(() => {
    const start = document.createElement('span');
    start.tabIndex = -1;
    document.body.prepend(start);
    start.focus();
  });
  const reached: number[] = [];
  const unmarked: string[] = [];
  const noOutline: number[] = [];
  for (let presses = 0; presses < 500; presses++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const element = document.activeElement;
      if (!element || element === document.body) return null;
      const style = getComputedStyle(element);
      return {
        id: element.getAttribute('data-a11y-id'),
        label: `<${element.tagName.toLowerCase()}> ${(element.textContent ?? '').trim().slice(0, 40)}`,
        outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
      };
    });
    if (!focused) break; // out of the page, into the browser's own controls
    if (focused.id === null) {
      unmarked.push(focused.label);
      continue;
    }
    const id = Number(focused.id);
    if (reached.includes(id)) break;
    reached.push(id);
    if (!focused.outline) noOutline.push(id);
  }
  return { reached, unmarked, noOutline };
}

/** What keeps the page's controls from the keyboard, by the controls' labels (all empty: none). */
async function keyboardProblems(page: Page): Promise<{ unreached: string[]; inoperable: string[]; stray: string[]; noOutline: string[] }> {
  const controls = await markControls(page);
  const { reached, unmarked, noOutline } = await tabThrough(page);
  return {
    /** Controls that Tab does not reach. */
    unreached: controls.filter((c) => !reached.includes(c.index)).map((c) => c.label),
    /** Controls that neither Enter nor Space operates. */
    inoperable: controls.filter((c) => !c.operable).map((c) => c.label),
    /** Elements that Tab focuses that are no visible control. */
    stray: unmarked,
    /** Controls that show no focus outline. */
    noOutline: noOutline.map((index) => controls[index]!.label),
  };
}

/** Presses Tab until `target` has the focus; fails after `limit` presses. */
async function tabTo(page: Page, target: Locator, limit = 80): Promise<void> {
  await target.waitFor();
  for (let presses = 0; presses < limit; presses++) {
    await page.keyboard.press('Tab');
    if (await target.evaluate((element) => element === document.activeElement)) return;
  }
  throw new Error(`${limit} presses of Tab did not reach ${String(target)}`);
}

describe('dashboard accessibility', () => {
  let dashboard: DashboardServer;
  let seeded: Seeded;

  /** A run at its first gate. */
  async function startRun(seed: number): Promise<string> {
    const { reports, datasets } = await dashboard.graphql('{ reports { id } datasets { id } }');
    const data = await dashboard.graphql('mutation($input: StartReportTestingInput!) { startReportTesting(input: $input) { run { id } } }', {
      input: { reportId: reports[0].id, datasetId: datasets[0].id, sampling: { size: 30, method: 'STRATIFIED', seed } },
    });
    return data.startReportTesting.run.id;
  }

  async function gateWaits(runId: string, step: string): Promise<void> {
    await waitFor(
      async () => (await dashboard.system.runs.get(runId))!.steps.find((s) => s.name === step)?.status,
      (status) => status === 'WAITING',
      90_000,
      `${step} of run ${runId} to wait for a decision`,
    );
  }

  beforeAll(async () => {
    dashboard = await serveDashboard();
    const { system, enqueue } = dashboard;
    const seed = await system.enqueue('demo.seedDemoData', { records: 1_000 });
    const completed = await enqueue('test.flaky', { succeedOnAttempt: 2 });
    const long = await enqueue('demo.countWords', { text: Array.from({ length: 600 }, (_, i) => `word${i}`).join(' '), chunkSize: 20, pauseMs: 220 });
    const failed = await enqueue('test.refuses', {});
    await Promise.all([waitForJob(system, completed), waitForJob(system, long), waitForJob(system, failed), waitForJob(system, seed.job.id, 'COMPLETED', 60_000)]);
    const [atScoping, atResults] = [await startRun(1), await startRun(2)];
    await Promise.all([gateWaits(atScoping, 'scopingSignOff'), gateWaits(atResults, 'scopingSignOff')]);
    await dashboard.graphql('mutation($id: ID!) { approveStep(runId: $id, step: "scopingSignOff", comment: "in scope") { id } }', { id: atResults }, APPROVER);
    await gateWaits(atResults, 'resultsSignOff');
    const running = await enqueue('test.sleep', { ms: 300_000 });
    await waitForJob(system, running, 'RUNNING');
    const schedule = 'nightly-a11y';
    await dashboard.graphql(`mutation { createSchedule(name: "${schedule}", task: "demo.countWords", input: { text: "one two" }, cron: "30 2 * * *", timezone: "Europe/Paris") { id } }`);
    seeded = { completed, long, failed, running, atScoping, atResults, schedule };
  }, 240_000);

  afterEach(async () => {
    // No console errors and no uncaught exceptions on any page of the test.
    expect(await dashboard.closePages()).toEqual([]);
  });

  afterAll(async () => {
    await dashboard?.close();
  });

  async function openCase(page: PageCase, colorScheme: 'light' | 'dark' = 'light'): Promise<Page> {
    const tab = await dashboard.open(`/dashboard${page.path(seeded)}`, { token: page.token, colorScheme });
    await page.ready(tab, seeded);
    return tab;
  }

  describe.each(['light', 'dark'] as const)('in %s colours, axe finds no serious or critical violation', (colorScheme) => {
    it.each(PAGES)('on $name', async (pageCase) => {
      const page = await openCase(pageCase, colorScheme);
      const violations = await audit(page);
      expect(violations, describeViolations(violations)).toEqual([]);
    });
  });

  it.each(PAGES)('$name has exactly one level-one heading', async (pageCase) => {
    const page = await openCase(pageCase);
    expect(await page.locator('h1').allTextContents()).toHaveLength(1);
  });

  it.each(PAGES)('on $name, Tab reaches every control, Enter or Space operates each, and focus shows', async (pageCase) => {
    const page = await openCase(pageCase);
    expect(await keyboardProblems(page)).toEqual({ unreached: [], inoperable: [], stray: [], noOutline: [] });
  });

  it('the keyboard check itself finds a <div> that listens for a click, and a focusable one that no key operates', async () => {
    const page = await dashboard.open('/dashboard/nothing-here', { token: OPERATOR });
    await page.getByText('Nothing here.').waitFor();
    await page.evaluate(() => {
      const main = document.querySelector('main')!;
      const plain = document.createElement('div');
      plain.textContent = 'clickable';
      plain.addEventListener('click', () => {});
      const focusable = document.createElement('div');
      focusable.textContent = 'focusable';
      focusable.tabIndex = 0;
      focusable.setAttribute('role', 'button');
      focusable.addEventListener('click', () => {});
      main.append(plain, focusable);
    });
    const problems = await keyboardProblems(page);
    expect(problems.unreached).toEqual(['<div> clickable']);
    expect(problems.inoperable).toEqual(['<div> clickable', '<div> focusable']);
  });

  describe('the actions, from the keyboard alone', () => {
    it('signs in: the token, then Enter', async () => {
      const page = await dashboard.open('/dashboard/');
      await tabTo(page, page.getByLabel('API token'));
      await page.keyboard.type(OPERATOR);
      await page.keyboard.press('Enter');
      await page.getByText('ops · operator').waitFor();
    });

    it('skips to the content, and follows the navigation with Enter', async () => {
      const page = await dashboard.open('/dashboard/', { token: OPERATOR });
      await live(page);
      await tabTo(page, page.getByRole('link', { name: 'Skip to content' }), 1);
      await page.keyboard.press('Enter');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => Boolean(document.activeElement?.closest('main')))).toBe(true);
      await tabTo(page, page.getByRole('navigation').getByRole('link', { name: 'Runs' }));
      await page.keyboard.press('Enter');
      await page.waitForURL(/\/dashboard\/runs$/);
      await page.getByRole('heading', { level: 1, name: 'Runs' }).waitFor();
    });

    it('enqueues a job: Tab to Enqueue, Enter', async () => {
      const page = await dashboard.open('/dashboard/enqueue', { token: OPERATOR });
      await expect.poll(() => page.getByLabel('Input (JSON)').inputValue()).toContain('{');
      await tabTo(page, page.getByRole('button', { name: 'Enqueue', exact: true }));
      await page.keyboard.press('Enter');
      await page.waitForURL(/\/dashboard\/jobs\/[0-9a-f-]{36}$/);
    });

    it('retries a failed job with Enter and cancels a running one with Space', async () => {
      const failed = await dashboard.enqueue('test.refuses', {});
      const running = await dashboard.enqueue('test.sleep', { ms: 120_000 });
      await waitForJob(dashboard.system, failed, 'FAILED');
      await waitForJob(dashboard.system, running, 'RUNNING');

      const page = await dashboard.open(`/dashboard/jobs/${failed}`, { token: OPERATOR });
      await live(page);
      await tabTo(page, page.getByRole('button', { name: 'Retry' }));
      await page.keyboard.press('Enter');
      await waitFor(async () => (await dashboard.system.getJob(failed))!.attempt, (attempt) => attempt === 2, 10_000, 'the retried attempt');

      const other = await dashboard.open(`/dashboard/jobs/${running}`, { token: OPERATOR });
      await live(other);
      await tabTo(other, other.getByRole('button', { name: 'Cancel' }));
      await other.keyboard.press(' ');
      expect((await waitForJob(dashboard.system, running)).status).toBe('CANCELLED');
    });

    it('rejects a gate with a comment and Space, approves one with Enter', async () => {
      const page = await dashboard.open(`/dashboard/runs/${seeded.atScoping}`, { token: APPROVER });
      const gate = page.getByRole('region', { name: 'Sign-off: scopingSignOff' });
      await gate.getByRole('button', { name: 'Approve' }).waitFor();
      await tabTo(page, gate.getByLabel('Comment (kept with the decision)'));
      await page.keyboard.type('mappings are wrong');
      await tabTo(page, gate.getByRole('button', { name: 'Reject' }), 3);
      await page.keyboard.press(' ');
      await waitFor(async () => (await dashboard.system.runs.get(seeded.atScoping))!.steps.find((s) => s.name === 'scopingSignOff')?.status, (status) => status === 'REJECTED', 10_000, 'the rejection');

      const other = await dashboard.open(`/dashboard/runs/${seeded.atResults}`, { token: APPROVER });
      await other.getByRole('region', { name: 'Sign-off: resultsSignOff' }).getByRole('button', { name: 'Approve' }).waitFor();
      await tabTo(other, other.getByRole('button', { name: 'Approve' }));
      await other.keyboard.press('Enter');
      await waitFor(async () => (await dashboard.system.runs.get(seeded.atResults))!.steps.find((s) => s.name === 'resultsSignOff')?.status, (status) => status === 'COMPLETED', 10_000, 'the approval');
    });
  });
});
