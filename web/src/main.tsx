// Entry point: the styles and the shell.
// The shared styles are imported before the screens so their CSS comes first in the bundle:
// a screen's rule (`.request-table td` on a phone) then wins over the shared one it refines
// (`.table td`), which has the same specificity.
import './styles/theme.css';
import './styles/base.css';
import { render } from 'preact';
import { App } from './app/App';

render(<App />, document.getElementById('app')!);
