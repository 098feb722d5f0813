// A searchable multi-select for resources or permissions: type to filter, tick one by one,
// or select all that the filter shows (up to 1,000). Only the first matches are drawn; the
// selection and "select all" work on every match.
import { useMemo, useState } from 'preact/hooks';
import type { CatalogItem } from '../../../api/types';
import {
  MAX_SELECTION,
  allState,
  clearVisible,
  matches,
  selectAll,
  toggle,
} from '../../../lib/selection';
import './ResourcePicker.css';

interface Props {
  /// `resources` or `permissions`: ids and test ids derive from it.
  kind: string;
  legend: string;
  items: CatalogItem[];
  selected: ReadonlySet<string>;
  onChange: (s: Set<string>) => void;
  /// How many matches are drawn at most.
  drawn?: number;
}

export function ResourcePicker({ kind, legend, items, selected, onChange, drawn = 200 }: Props) {
  const [query, setQuery] = useState('');
  const [note, setNote] = useState('');
  const visible = useMemo(
    () => items.filter((i) => matches(`${i.name} ${i.id}`, query)).map((i) => i.id),
    [items, query],
  );
  const names = useMemo(() => new Map(items.map((i) => [i.id, i.name])), [items]);
  const state = allState(selected, visible);
  const searchable = items.length > 8;
  return (
    <fieldset class="picker" data-testid={`${kind}-picker`}>
      <legend>{legend}</legend>
      {searchable && (
        <div class="field picker__search">
          <label class="field__label" for={`${kind}-search`}>
            Search {kind}
          </label>
          <input
            id={`${kind}-search`}
            type="search"
            value={query}
            onInput={(e) => setQuery(e.currentTarget.value)}
            data-testid={`${kind}-search`}
          />
        </div>
      )}
      <div class="picker__bar">
        <label class="picker__all">
          <input
            type="checkbox"
            checked={state === 'all'}
            indeterminate={state === 'some'}
            disabled={visible.length === 0}
            onChange={() => {
              if (state === 'all') {
                onChange(clearVisible(selected, visible));
                setNote('');
              } else {
                const r = selectAll(selected, visible, MAX_SELECTION);
                onChange(r.selected);
                setNote(
                  r.leftOut > 0
                    ? `${r.leftOut} not selected: a request names at most ${MAX_SELECTION}.`
                    : '',
                );
              }
            }}
            data-testid={`${kind}-select-all`}
          />
          {query ? `Select all ${visible.length} shown` : `Select all ${visible.length}`}
        </label>
        <span class="muted" aria-live="polite" data-testid={`${kind}-selected-count`}>
          {selected.size} selected
        </span>
      </div>
      {note && <p class="field__hint">{note}</p>}
      <ul class="picker__list" aria-label={legend}>
        {visible.slice(0, drawn).map((id) => (
          <li key={id}>
            <label class="picker__item">
              <input
                type="checkbox"
                checked={selected.has(id)}
                onChange={() => onChange(toggle(selected, id))}
                data-testid={`${kind}-option`}
                value={id}
              />
              <span class="wrap-anywhere">{names.get(id) ?? id}</span>
            </label>
          </li>
        ))}
      </ul>
      {visible.length > drawn && (
        <p class="field__hint">
          {visible.length - drawn} more match: search to narrow the list, or select all of them.
        </p>
      )}
      {visible.length === 0 && <p class="field__hint">Nothing matches “{query}”.</p>}
    </fieldset>
  );
}
