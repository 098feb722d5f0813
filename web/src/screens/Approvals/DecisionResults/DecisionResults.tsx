// What a bulk decision did, request by request.
import { Link } from '../../../components/Link/Link';
import { type Outcome, summary } from './bulk';

export function DecisionResults({ verb, outcomes }: { verb: string; outcomes: Outcome[] }) {
  if (outcomes.length === 0) return null;
  const failed = outcomes.some((o) => !o.ok);
  return (
    <div
      class={`notice ${failed ? 'notice--warn' : ''}`}
      role={failed ? 'alert' : 'status'}
      data-testid="decision-results"
      tabIndex={-1}
    >
      <p>{summary(verb, outcomes)}</p>
      <ul>
        {outcomes.map((o) => (
          <li key={o.id}>
            <Link href={`/requests/${o.id}`}>{o.id}</Link>: {o.ok ? `now ${o.text}` : o.text}
          </li>
        ))}
      </ul>
    </div>
  );
}
