// A request's or a unit's status in the broker's words, coloured by what it means.
import type { Status } from '../../api/types';
import { statusHint, statusTone } from '../../lib/status';
import './StatusBadge.css';

export function StatusBadge({ status, hint = true }: { status: Status; hint?: boolean }) {
  return (
    <span
      class={`status-badge status-badge--${statusTone(status)}`}
      title={hint ? statusHint(status) : undefined}
      data-status={status}
    >
      {status}
    </span>
  );
}
