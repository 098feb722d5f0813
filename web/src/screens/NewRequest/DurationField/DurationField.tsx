// How long the grant lasts once ACTIVE: typed as the CLI takes it (hours with decimals, or
// 90m, 1.5h, 1h30m), checked as typed against the flow's maximum, with the absolute local
// start and end it would give if granted now.
import { useNow } from '../../../app/hooks';
import { durationError, formatDuration } from '../../../lib/duration';
import { durationWindow, presets } from './window';
import './DurationField.css';

interface Props {
  value: string;
  onChange: (v: string) => void;
  maxSeconds: number | null;
  /// A manual flow: the clock starts at approval, not now.
  manual: boolean;
}

export function DurationField({ value, onChange, maxSeconds, manual }: Props) {
  const now = useNow();
  const error = durationError(value, maxSeconds);
  const w = error ? null : durationWindow(value, now);
  return (
    <div class="field duration-field">
      <label class="field__label" for="duration">
        Duration
      </label>
      <div class="duration-field__row">
        <input
          id="duration"
          inputMode="decimal"
          autocomplete="off"
          spellcheck={false}
          placeholder="e.g. 1.5 or 90m"
          value={value}
          aria-invalid={error ? 'true' : undefined}
          aria-describedby="duration-hint duration-status"
          onInput={(e) => onChange(e.currentTarget.value)}
          data-testid="duration"
        />
        <div class="button-row" role="group" aria-label="Quick durations">
          {presets(maxSeconds).map((p) => (
            <button
              key={p}
              type="button"
              class="button button--small"
              aria-pressed={value.trim() === p}
              onClick={() => onChange(p)}
            >
              {p}
            </button>
          ))}
          {maxSeconds && (
            <button
              type="button"
              class="button button--small"
              onClick={() => onChange(formatDuration(maxSeconds))}
              data-testid="duration-max"
            >
              Max ({formatDuration(maxSeconds)})
            </button>
          )}
        </div>
      </div>
      <span id="duration-hint" class="field__hint">
        Hours (0.75, 1.5) or units: 90s, 45m, 1h30m, 2d.{' '}
        {maxSeconds
          ? `The access flow allows at most ${formatDuration(maxSeconds)}.`
          : 'Empty: the access flow’s default.'}
      </span>
      <span
        id="duration-status"
        class={error ? 'field__error' : 'field__hint'}
        aria-live="polite"
        data-testid="duration-status"
      >
        {error
          ? error
          : w
            ? `${w.text}: ${manual ? 'once approved, e.g. if approved now,' : 'if granted now,'} from ${w.start} to ${w.end} (${w.zone}).`
            : ''}
      </span>
    </div>
  );
}
