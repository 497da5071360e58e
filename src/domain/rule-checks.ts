/** Whether one value passes one data-quality rule, and why not. Pure: no data access. */

export type RuleKind = 'NOT_NULL' | 'RANGE' | 'PATTERN' | 'ALLOWED_VALUES' | 'UNIQUE' | 'MAX_LENGTH';

export interface RuleToCheck {
  kind: RuleKind;
  params: Record<string, unknown>;
}

export interface Verdict {
  passed: boolean;
  message: string | null;
}

const PASS: Verdict = { passed: true, message: null };

/**
 * `occurrences`: for UNIQUE, how many records of the dataset hold this value (the caller counts
 * them in the database, a batch at a time).
 */
export function checkValue(rule: RuleToCheck, value: unknown, occurrences?: number): Verdict {
  const absent = value === null || value === undefined || value === '';
  switch (rule.kind) {
    case 'NOT_NULL':
      return absent ? { passed: false, message: 'value is missing' } : PASS;
    case 'RANGE': {
      if (absent) return PASS; // NOT_NULL's business
      const n = typeof value === 'number' ? value : Number(value);
      if (!Number.isFinite(n)) return { passed: false, message: `${JSON.stringify(value)} is not a number` };
      const min = numberParam(rule.params.min);
      const max = numberParam(rule.params.max);
      if (min !== undefined && n < min) return { passed: false, message: `${n} is below ${min}` };
      if (max !== undefined && n > max) return { passed: false, message: `${n} is above ${max}` };
      return PASS;
    }
    case 'PATTERN': {
      if (absent) return PASS;
      const regex = safeRegex(rule.params.regex);
      if (!regex) return { passed: false, message: `the rule's pattern ${JSON.stringify(rule.params.regex)} is not a valid regular expression` };
      return regex.test(String(value)) ? PASS : { passed: false, message: `${JSON.stringify(value)} does not match ${regex.source}` };
    }
    case 'ALLOWED_VALUES': {
      if (absent) return PASS;
      const allowed = Array.isArray(rule.params.values) ? rule.params.values.map(String) : [];
      return allowed.includes(String(value)) ? PASS : { passed: false, message: `${JSON.stringify(value)} is not one of ${allowed.join(', ')}` };
    }
    case 'UNIQUE':
      if (absent) return PASS;
      return (occurrences ?? 1) <= 1 ? PASS : { passed: false, message: `${JSON.stringify(value)} appears in ${occurrences} records` };
    case 'MAX_LENGTH': {
      if (absent) return PASS;
      const max = numberParam(rule.params.max);
      const length = String(value).length;
      return max === undefined || length <= max ? PASS : { passed: false, message: `${length} characters, more than ${max}` };
    }
  }
}

function numberParam(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function safeRegex(source: unknown): RegExp | undefined {
  if (typeof source !== 'string' || source.length > 500) return undefined;
  try {
    return new RegExp(source);
  } catch {
    return undefined;
  }
}
