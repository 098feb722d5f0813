// The credentials of an ACTIVE grant and how to connect. Nothing secret is fetched until the
// requester asks to reveal it; hiding drops the details from the page and from memory, and so
// does the grant leaving ACTIVE or the page closing. The commands that need no secret
// (`apono access connect`) are shown all along.
import { useEffect, useState } from 'preact/hooks';
import type { AccessDetails as Details, AccessRequest } from '../../../api/types';
import { api } from '../../../app/services';
import { CommandBox } from '../../../components/CommandBox/CommandBox';
import { CopyButton } from '../../../components/CopyButton/CopyButton';
import { ErrorMessage } from '../../../components/ErrorMessage/ErrorMessage';
import { announce } from '../../../components/LiveRegion/LiveRegion';
import { hiddenCommands, SECRETS_ADVICE, unitInstructions } from '../../../lib/instructions';
import { localTime, timeLeft } from '../../../lib/time';
import './AccessDetails.css';

/// Revealed credentials hide themselves after this long.
const HIDE_AFTER_MS = 5 * 60 * 1000;

interface Props {
  r: AccessRequest;
  /// Details handed over by a credential reset, shown at once.
  fresh: Details | null;
  onFreshShown: () => void;
}

function Revealed({ d }: { d: Details }) {
  return (
    <div data-testid="access-details-revealed">
      {d.units.map((u, i) => {
        const ins = unitInstructions(d, u);
        return (
          <section key={i} class="access-unit" aria-label={ins.title}>
            <h3>{ins.title}</h3>
            <dl class="facts access-unit__fields">
              {ins.fields.map((f) => (
                <div key={f.label} class="access-unit__field">
                  <dt>{f.label}</dt>
                  <dd>
                    <code
                      class="access-unit__value"
                      data-testid={`credential-${f.label.toLowerCase().replace(/\s+/g, '-')}`}
                    >
                      {f.value}
                    </code>
                    <CopyButton
                      text={f.value}
                      label={`Copy ${f.label.toLowerCase()} of ${u.resource}`}
                      testId={`copy-${f.label.toLowerCase().replace(/\s+/g, '-')}`}
                    />
                  </dd>
                </div>
              ))}
              <div class="access-unit__field">
                <dt>Valid until</dt>
                <dd>
                  {localTime(d.ends_at)} ({timeLeft(d.ends_at, Date.now())})
                </dd>
              </div>
            </dl>
            {ins.expiration && (
              <p class="field__hint">
                These credentials expire at {localTime(ins.expiration)}; the helpers below fetch
                fresh ones until the grant ends.
              </p>
            )}
            {ins.blocks.map((b, j) => (
              <div key={j}>
                <p class="access-unit__heading">{b.heading}</p>
                <CommandBox
                  commands={b.commands}
                  label={
                    b.heading
                      .replace(/[:(].*$/, '')
                      .trim()
                      .toLowerCase() || 'command'
                  }
                  testId={`commands-${i}-${j}`}
                />
              </div>
            ))}
          </section>
        );
      })}
      <p class="notice notice--warn">
        {SECRETS_ADVICE} They hide again by themselves after 5 minutes.
      </p>
    </div>
  );
}

export function AccessDetails({ r, fresh, onFreshShown }: Props) {
  const [details, setDetails] = useState<Details | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  // New credentials from a reset replace whatever was shown.
  useEffect(() => {
    if (!fresh) return;
    setDetails(fresh);
    onFreshShown();
  }, [fresh]);

  // Shown secrets do not stay on a screen left open: hidden again after a while.
  useEffect(() => {
    if (!details) return;
    const t = setTimeout(() => {
      setDetails(null);
      announce('Credentials hidden after 5 minutes');
    }, HIDE_AFTER_MS);
    return () => clearTimeout(t);
  }, [details]);

  // Access over: nothing to show any more.
  useEffect(() => {
    if (r.status !== 'ACTIVE') setDetails(null);
  }, [r.status]);

  const reveal = async () => {
    setBusy(true);
    setError(null);
    try {
      setDetails(
        await api.get<Details>(`/access-sessions/${encodeURIComponent(r.id)}/access-details`),
      );
      announce('Credentials shown');
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="access-title" data-testid="access-details">
      <div class="button-row access-details__head">
        <h2 id="access-title">Access details</h2>
        {details ? (
          <button
            type="button"
            class="button"
            onClick={() => {
              setDetails(null);
              announce('Credentials hidden');
            }}
            aria-controls="access-body"
            aria-expanded="true"
            data-testid="hide-credentials"
          >
            Hide credentials
          </button>
        ) : (
          <button
            type="button"
            class="button button--primary"
            onClick={() => void reveal()}
            disabled={busy}
            aria-busy={busy}
            aria-controls="access-body"
            aria-expanded="false"
            data-testid="reveal-credentials"
          >
            {busy ? 'Fetching…' : 'Reveal credentials'}
          </button>
        )}
      </div>
      <div id="access-body">
        <ErrorMessage error={error} testId="access-details-error" />
        {details ? (
          <Revealed d={details} />
        ) : (
          <>
            <p class="muted">
              The credentials stay hidden until you reveal them; revealing fetches them from the
              broker and is recorded in the audit log. Without them, connect through the local
              proxy:
            </p>
            <CommandBox commands={hiddenCommands(r.id)} label="command" testId="connect-commands" />
          </>
        )}
      </div>
    </section>
  );
}
