/** One measured number of a benchmark, optionally next to a baseline and a target. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** The same measurement done the plain way in the same run, for comparison. */
  baseline?: { name: string; value: number };
  /** What the number should be, in words (e.g. "< 10 ms"). */
  target?: string;
}
