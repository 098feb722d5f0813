// Bundles as radio buttons (arrow keys move between them), each with what it grants.
import type { Bundle } from '../../../api/types';

interface Props {
  bundles: Bundle[];
  value: string;
  onChange: (id: string) => void;
}

export function BundlePicker({ bundles, value, onChange }: Props) {
  if (bundles.length === 0) return <p class="muted">No bundle is offered to you.</p>;
  return (
    <fieldset data-testid="bundle-picker">
      <legend>Bundle</legend>
      {bundles.map((b) => (
        <label key={b.id} class="picker__item bundle-option">
          <input
            type="radio"
            name="bundle"
            value={b.id}
            checked={value === b.id}
            onChange={() => onChange(b.id)}
            data-testid="bundle-option"
          />
          <span>
            <strong>{b.name}</strong>
            <span class="muted">
              {' '}
              —{' '}
              {b.targets
                .map(
                  (t) =>
                    `${t.integration}: ${t.resources.join(', ')} (${t.permissions.join(', ')})`,
                )
                .join('; ')}
            </span>
          </span>
        </label>
      ))}
    </fieldset>
  );
}
