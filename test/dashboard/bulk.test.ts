import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobSystem } from '../../src/jobs/system.ts';
import { waitFor, waitForJob } from '../helpers/system.ts';
import { OPERATOR, root, serveDashboard, VIEWER, type DashboardServer } from './serve.ts';

/**
 * The job list's search and bulk actions in Chromium: the tag and input filters (by the API),
 * rows selected with checkboxes, "Retry selected" and "Cancel all matching" confirmed with their
 * count; operators only. Writes docs/dashboard-bulk.png (a selection and its confirmation).
 */
describe('dashboard: search and bulk actions', () => {
  let dashboard: DashboardServer;
  let system: JobSystem;
  const TAG = 'report:q3-loans';

  beforeAll(async () => {
    dashboard = await serveDashboard();
    ({ system } = dashboard);
  }, 120_000);
  afterEach(async () => {
    // No console errors and no uncaught exceptions on any page of the test.
    expect(await dashboard.closePages()).toEqual([]);
  });
  afterAll(async () => {
    await dashboard?.close();
  });

  const enqueue = async (type: string, input: unknown, tags: string[]) => {
    const data = await dashboard.graphql(
      'mutation($type: String!, $input: JSON!, $tags: [String!]) { enqueueJob(type: $type, input: $input, tags: $tags) { job { id } } }',
      { type, input, tags },
    );
    return data.enqueueJob.job.id as string;
  };
  const row = (page: Page, id: string) => page.locator(`tr[data-job-id="${id}"]`);
  const bulk = (page: Page) => page.getByRole('group', { name: 'Bulk actions' });

  it('retries the selected failed jobs and cancels every running job the filter matches, each after a confirmation with the count (screenshot docs/dashboard-bulk.png)', async () => {
    const done = await Promise.all([1, 2].map((i) => enqueue('demo.countWords', { text: `loan ${i} checked`, chunkSize: 1 }, [TAG])));
    for (const id of done) await waitForJob(system, id, 'COMPLETED');
    const failed = [];
    for (let i = 0; i < 3; i++) failed.push(await enqueue('test.refuses', {}, [TAG]));
    for (const id of failed) await waitForJob(system, id, 'FAILED');
    const running = [];
    for (let i = 0; i < 2; i++) running.push(await enqueue('test.sleep', { ms: 120_000 }, [TAG]));
    for (const id of running) await waitForJob(system, id, 'RUNNING');
    const elsewhere = await enqueue('test.sleep', { ms: 120_000 }, ['report:other']);
    await waitForJob(system, elsewhere, 'RUNNING');

    const page = await dashboard.open(`/dashboard/jobs?tag=${encodeURIComponent(TAG)}`, OPERATOR);
    await page.getByText('● live').waitFor();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(7);
    expect(await page.getByLabel('Tags').inputValue()).toBe(TAG);
    expect(await row(page, elsewhere).count()).toBe(0); // by the API's tag filter

    // Select the failed ones: a click, and from the keyboard (Space on the focused checkbox).
    await row(page, failed[0]!).getByRole('checkbox').check();
    await row(page, failed[1]!).getByRole('checkbox').focus();
    await page.keyboard.press('Space');
    await row(page, failed[2]!).getByRole('checkbox', { name: /^Select job .* \(test\.refuses, FAILED\)$/ }).check();
    await bulk(page).getByText('3 jobs selected').waitFor();
    await bulk(page).getByRole('button', { name: 'Retry selected' }).click();
    const confirm = page.getByRole('group', { name: 'Retry 3 jobs?' });
    await confirm.waitFor();
    // The confirm button has the focus: Enter would do it.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Retry 3 jobs');
    await mkdir(join(root, 'docs'), { recursive: true });
    await page.screenshot({ path: join(root, 'docs/dashboard-bulk.png') });

    await confirm.getByRole('button', { name: 'Retry 3 jobs' }).click();
    await page.getByRole('status').filter({ hasText: 'Retried 3 jobs.' }).waitFor();
    expect(await page.getByRole('checkbox', { checked: true }).count()).toBe(0); // the selection is cleared
    for (const id of failed) {
      await waitFor(async () => (await system.getJob(id))!, (job) => job.status === 'FAILED' && job.attempt === 2, 10_000, 'a second attempt');
      expect((await system.events(id)).map((event) => event.message)).toContain('retried by ops, in a bulk retry');
    }

    // Every job the filter matches: a cancel applies to the running ones only.
    await bulk(page).getByRole('button', { name: 'Cancel all matching' }).click();
    const cancelAll = page.getByRole('group', { name: 'Cancel all 2 jobs matching the filter?' });
    await cancelAll.getByRole('button', { name: 'Keep them' }).click(); // the first time, no
    await expect.poll(() => cancelAll.count()).toBe(0);
    expect((await system.getJob(running[0]!))!.status).toBe('RUNNING');
    await bulk(page).getByRole('button', { name: 'Cancel all matching' }).click();
    await cancelAll.getByRole('button', { name: 'Cancel 2 jobs' }).click();
    await page.getByRole('status').filter({ hasText: 'Cancelled 2 jobs.' }).waitFor();
    for (const id of running) {
      await row(page, id).getByText('CANCELLED', { exact: true }).waitFor({ timeout: 10_000 });
      expect((await system.events(id)).map((event) => event.message)).toContain('cancelled by ops, in a bulk cancel');
    }
    expect((await system.getJob(elsewhere))!.status).toBe('RUNNING'); // not matched
    await system.cancel(elsewhere);
  });

  it('filters by an input field (key=value or JSON), says when it cannot read it, and shows a viewer no selection or bulk bar', async () => {
    const needle = await enqueue('test.echo', { value: 'needle-7' }, []);
    const hay = await enqueue('test.echo', { value: 'hay' }, []);
    await waitForJob(system, needle, 'COMPLETED');
    await waitForJob(system, hay, 'COMPLETED');

    const page = await dashboard.open('/dashboard/jobs?type=test.echo', OPERATOR);
    await row(page, hay).waitFor();
    const field = page.getByLabel('Input field');
    await field.fill('value=needle-7');
    await field.press('Enter');
    await expect.poll(() => page.url()).toContain('input=value%3Dneedle-7');
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await row(page, needle).waitFor();
    await field.fill('{"value": "hay"}');
    await field.press('Enter');
    await row(page, hay).waitFor();
    await expect.poll(() => page.locator('tbody tr').count()).toBe(1);
    await field.fill('value');
    await field.press('Enter');
    await page.getByRole('alert').filter({ hasText: 'Input field: write key=value' }).waitFor();
    expect(await field.getAttribute('aria-invalid')).toBe('true');

    const viewer = await dashboard.open('/dashboard/jobs?type=test.echo', VIEWER);
    await row(viewer, hay).waitFor();
    expect(await viewer.getByRole('checkbox').count()).toBe(0);
    expect(await bulk(viewer).count()).toBe(0);
  });
});
