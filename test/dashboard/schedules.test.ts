import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR, root, serveDashboard, VIEWER, type DashboardServer } from './serve.ts';

/** The Schedules page in Chromium against a real API whose scheduler fires on the real clock. */
describe('dashboard: schedules', () => {
  let dashboard: DashboardServer;

  beforeAll(async () => {
    dashboard = await serveDashboard();
  }, 120_000);
  afterEach(async () => {
    expect(await dashboard.closePages()).toEqual([]);
  });
  afterAll(async () => {
    await dashboard?.close();
  });

  it('an operator makes a schedule with the form; its next ticks and the jobs its ticks make show; pause and resume (screenshot docs/dashboard-schedules.png)', async () => {
    await dashboard.graphql(
      'mutation { createSchedule(name: "nightly-profile", task: "demo.countWords", input: { text: "one two" }, cron: "30 2 * * *", timezone: "America/New_York", catchUp: SKIP) { id } }',
    );
    const page = await dashboard.open('/dashboard/schedules', OPERATOR);
    const form = page.getByRole('region', { name: 'New schedule' });
    await form.getByLabel('Task').selectOption('demo.countWords');
    await form.getByLabel('Name (optional)').fill('every-second');
    await form.getByLabel('Cron').fill('* * * * * *');
    await form.getByLabel('Time zone').fill('Europe/Paris');
    await form.getByLabel('Input (JSON)').fill('{ "text": "tick tock" }');
    await form.getByRole('button', { name: 'Create schedule' }).click();

    const list = page.getByRole('region', { name: 'Schedules' });
    const row = list.getByRole('row', { name: /every-second/ });
    await expect.poll(() => row.locator('time').count(), { timeout: 10_000 }).toBe(3);
    // Its ticks make jobs: the page reads again after the soonest tick, without a reload.
    await expect.poll(() => row.getByRole('link', { name: /^Job \w{8}, completed/ }).count(), { timeout: 15_000 }).toBeGreaterThanOrEqual(1);
    const nightly = list.getByRole('row', { name: /nightly-profile/ });
    expect(await nightly.textContent()).toMatch(/America\/New_York · missed ticks: skip/);
    await page.screenshot({ path: join(root, 'docs/dashboard-schedules.png'), fullPage: true });

    await row.getByRole('button', { name: 'Pause every-second' }).click();
    await expect.poll(() => row.getByRole('button', { name: 'Resume every-second' }).count()).toBe(1);
    expect(await row.locator('time').count()).toBe(0);
    const made = (await dashboard.graphql('{ schedules { name jobs(first: 100) { id } } }')).schedules.find((s: { name: string }) => s.name === 'every-second').jobs.length;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const after = (await dashboard.graphql('{ schedules { name jobs(first: 100) { id } } }')).schedules.find((s: { name: string }) => s.name === 'every-second').jobs.length;
    expect(after - made).toBeLessThanOrEqual(1); // a tick read just before the pause may still fire
    await row.getByRole('button', { name: 'Resume every-second' }).click();
    await expect.poll(() => row.getByRole('button', { name: 'Pause every-second' }).count()).toBe(1);
    await row.getByRole('button', { name: 'Pause every-second' }).click();
    await expect.poll(() => row.getByRole('button', { name: 'Resume every-second' }).count()).toBe(1);
  });

  it('a cron that does not parse is answered under its field; a viewer sees the schedules without the form or the actions', async () => {
    const page = await dashboard.open('/dashboard/schedules', OPERATOR);
    const form = page.getByRole('region', { name: 'New schedule' });
    await form.getByLabel('Cron').fill('0 25 * * *');
    await form.getByRole('button', { name: 'Create schedule' }).click();
    await expect.poll(() => form.getByRole('alert').textContent()).toMatch(/cron: "0 25 \* \* \*" is not a cron expression/);

    const viewer = await dashboard.open('/dashboard/schedules', VIEWER);
    await expect.poll(() => viewer.getByRole('region', { name: 'Schedules' }).getByRole('row').count()).toBeGreaterThan(1);
    expect(await viewer.getByRole('region', { name: 'New schedule' }).count()).toBe(0);
    expect(await viewer.getByRole('button', { name: /^(Pause|Resume|Delete) / }).count()).toBe(0);
  });
});
