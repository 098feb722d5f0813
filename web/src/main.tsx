// Entry point: the styles and the shell.
import { render } from 'preact';
import { App } from './app/App';
import './styles/theme.css';
import './styles/base.css';

render(<App />, document.getElementById('app')!);
