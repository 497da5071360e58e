// `npm install` (postinstall) and `npm run db:template`: makes the template new embedded ledgers are
// copied from (src/db/template.ts), so that the first `npm start` does not wait for initdb either.
// Never fails the install: without a template the first new ledger makes one itself.
import { defaultTemplateCache, ensureTemplate } from '../src/db/template.ts';

try {
  const started = performance.now();
  const template = await ensureTemplate(defaultTemplateCache);
  console.log(`jobgraph: embedded ledger template ready in ${Math.round(performance.now() - started)} ms (${template})`);
} catch (error) {
  console.warn(`jobgraph: no embedded ledger template (the first new ledger will make it): ${error instanceof Error ? error.message : String(error)}`);
}
