/**
 * The benchmark's progress bar on stderr: cells done out of the total, the cell running, the
 * time elapsed and an estimate of the time left. On a terminal it redraws one line in place
 * (and `log` prints above it); otherwise it prints one line as each cell starts.
 */

const REDRAW_MS = 250;
const BAR_WIDTH = 20;

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mmss = `${String(m).padStart(h > 0 ? 2 : 1, '0')}:${String(s % 60).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}

export class Progress {
  private readonly startMs = performance.now();
  private done = 0;
  private current = '';
  private currentStartMs = 0;
  private detail = '';
  /** Seconds a cell is expected to take before any has finished. */
  private cellEstimateS: number;
  private timer: NodeJS.Timeout | null = null;
  private readonly tty: boolean;

  constructor(
    private readonly total: number,
    plannedCellS: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {
    this.cellEstimateS = plannedCellS;
    this.tty = out.isTTY === true;
    if (this.tty) {
      this.timer = setInterval(() => this.draw(), REDRAW_MS);
      this.timer.unref();
    }
  }

  /** A cell starts: `label` names it. */
  start(label: string): void {
    this.current = label;
    this.currentStartMs = performance.now();
    this.detail = '';
    if (this.tty) this.draw();
    else this.out.write(`[${this.done + 1}/${this.total}] ${label}  (elapsed ${formatDuration(this.elapsedS())}, ETA ${formatDuration(this.etaS())})\n`);
  }

  /** What the running cell is doing (`1234 requests`, `checking`); shown on a terminal only. */
  update(detail: string): void {
    this.detail = detail;
  }

  /** The running cell finished. */
  finish(): void {
    this.done++;
    this.cellEstimateS = this.elapsedS() / this.done;
    this.current = '';
    this.detail = '';
    if (this.tty) this.draw();
  }

  /** A line above the bar. */
  log(line: string): void {
    if (this.tty) this.out.write(`\r\x1b[K${line}\n`);
    else this.out.write(`${line}\n`);
    if (this.tty) this.draw();
  }

  /** Removes the bar; prints the total time. */
  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const line = `${this.done}/${this.total} cells in ${formatDuration(this.elapsedS())}`;
    this.out.write(this.tty ? `\r\x1b[K${line}\n` : `${line}\n`);
  }

  private elapsedS(): number {
    return (performance.now() - this.startMs) / 1000;
  }

  /** The cells left at the average pace so far, less what the running cell has done. */
  private etaS(): number {
    const intoCurrentS = this.current === '' ? 0 : (performance.now() - this.currentStartMs) / 1000;
    return Math.max(0, (this.total - this.done) * this.cellEstimateS - Math.min(intoCurrentS, this.cellEstimateS));
  }

  private draw(): void {
    const filled = Math.round((this.done / Math.max(1, this.total)) * BAR_WIDTH);
    const bar = `${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}`;
    const cell = this.current === '' ? '' : `  ${this.current}${this.detail === '' ? '' : `: ${this.detail}`}`;
    const line = `[${bar}] ${this.done}/${this.total}${cell}  ${formatDuration(this.elapsedS())} elapsed, ETA ${formatDuration(this.etaS())}`;
    const width = this.out.columns ?? 120;
    this.out.write(`\r\x1b[K${line.length > width - 1 ? line.slice(0, width - 1) : line}`);
  }
}
