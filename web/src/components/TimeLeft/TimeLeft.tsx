// How long a grant has left, ticking every second while it is ACTIVE (`in 29m12s`, then
// `ended`), with the local end time on hover and for assistive technology.
import type { Status } from '../../api/types';
import { useNow } from '../../app/hooks';
import { localTime, timeLeft } from '../../lib/time';

function Ticking({ endsAt }: { endsAt: string }) {
  const now = useNow();
  return (
    <time dateTime={endsAt} title={localTime(endsAt)} class="time-left">
      {timeLeft(endsAt, now)}
    </time>
  );
}

export function TimeLeft({ endsAt, status }: { endsAt: string | null; status: Status }) {
  if (!endsAt) return <span class="muted">—</span>;
  if (status === 'ACTIVE') return <Ticking endsAt={endsAt} />;
  return (
    <time dateTime={endsAt} title={localTime(endsAt)} class="muted">
      {status === 'GRANTING' ? localTime(endsAt, false) : 'ended'}
    </time>
  );
}
