// Ready-to-paste commands, one per line, each with its own copy button.
import { CopyButton } from '../CopyButton/CopyButton';
import './CommandBox.css';

interface Props {
  commands: string[];
  /// What the commands are, for the copy buttons' names ("Copy psql command 1").
  label: string;
  testId?: string;
}

export function CommandBox({ commands, label, testId }: Props) {
  return (
    <ul class="command-box" data-testid={testId}>
      {commands.map((c, i) => (
        <li key={i} class="command-box__line">
          {/* A long command (a thousand resources) scrolls in its box, reachable by keyboard. */}
          <code
            class={`command-box__code${c.length > 400 ? ' command-box__code--long' : ''}`}
            tabIndex={c.length > 400 ? 0 : undefined}
          >
            {c}
          </code>
          <CopyButton
            text={c}
            label={commands.length > 1 ? `Copy ${label} ${i + 1}` : `Copy ${label}`}
            testId={testId ? `${testId}-copy-${i}` : undefined}
          />
        </li>
      ))}
    </ul>
  );
}
