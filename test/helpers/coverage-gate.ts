// Runs after tap (see `npm test`): prints the coverage totals and fails the run
// when line coverage is below the floor.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findRepoRoot } from '../../engine/embedded/repo-root.js';

// An honest floor, not coverage turned off: it sits just under what the suite
// reaches today and is raised as the suite grows. Never lower it to get green.
const LINES_MIN = 90;

type Metric = { total: number; covered: number; pct: number | string };
type Summary = { total?: { lines?: Metric; branches?: Metric; functions?: Metric; statements?: Metric } };

function pct(metric: Metric | undefined): number {
  if (!metric || metric.total === 0) return 0;
  return typeof metric.pct === 'number' ? metric.pct : (100 * metric.covered) / metric.total;
}

function show(name: string, metric: Metric | undefined): string {
  return `${name} ${pct(metric).toFixed(2)}% (${metric?.covered ?? 0}/${metric?.total ?? 0})`;
}

const file = join(findRepoRoot(import.meta.url), '.tap', 'report', 'coverage-summary.json');
let summary: Summary;
try {
  summary = JSON.parse(readFileSync(file, 'utf8')) as Summary;
} catch (err) {
  console.error(
    `coverage gate: cannot read ${file} (${(err as Error).message}). ` +
      'It is written by tap with coverage-report json-summary; run `npm test`, not tap with coverage disabled.',
  );
  process.exit(1);
}

const total = summary.total;
console.log(
  `coverage: ${show('lines', total?.lines)}, ${show('branches', total?.branches)}, ` +
    `${show('functions', total?.functions)}`,
);
const lines = pct(total?.lines);
if (lines < LINES_MIN) {
  console.error(`coverage gate: lines ${lines.toFixed(2)}% is below the floor of ${LINES_MIN}%`);
  process.exit(1);
}
console.log(`coverage gate: lines ${lines.toFixed(2)}% >= ${LINES_MIN}% floor`);
