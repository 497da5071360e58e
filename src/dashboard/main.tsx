import { render } from 'preact';
import { App } from './components/App/App.tsx';
import './global.css';

render(<App />, document.getElementById('app')!);
