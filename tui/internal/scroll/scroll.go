// Package scroll keeps a cursor and a viewport over a list of rows, so that
// every pane moves the same way and renders only the rows it shows.
package scroll

// Cursor is a position in a list of Len rows shown Height rows at a time,
// starting at Top.
type Cursor struct {
	Pos, Top, Len, Height int
}

// SetLen changes the number of rows, keeping the cursor inside.
func (c *Cursor) SetLen(n int) {
	c.Len = n
	c.clamp()
}

// SetHeight changes the number of rows shown.
func (c *Cursor) SetHeight(h int) {
	c.Height = max(h, 1)
	c.clamp()
}

// Move moves the cursor by d rows (negative is up).
func (c *Cursor) Move(d int) {
	c.Pos += d
	c.clamp()
}

// To puts the cursor on row i.
func (c *Cursor) To(i int) {
	c.Pos = i
	c.clamp()
}

// Page moves by one screenful (dir is +1 or -1).
func (c *Cursor) Page(dir int) { c.Move(dir * max(c.Height-1, 1)) }

// Scroll moves the viewport by d rows without leaving the cursor behind, as
// a mouse wheel does.
func (c *Cursor) Scroll(d int) {
	c.Top += d
	if c.Top > c.Len-c.Height {
		c.Top = c.Len - c.Height
	}
	if c.Top < 0 {
		c.Top = 0
	}
	if c.Pos < c.Top {
		c.Pos = c.Top
	}
	if c.Pos >= c.Top+c.Height {
		c.Pos = c.Top + c.Height - 1
	}
	c.clamp()
}

// Visible returns the half-open range of rows on screen.
func (c *Cursor) Visible() (from, to int) {
	return c.Top, min(c.Top+c.Height, c.Len)
}

func (c *Cursor) clamp() {
	if c.Height < 1 {
		c.Height = 1
	}
	if c.Pos >= c.Len {
		c.Pos = c.Len - 1
	}
	if c.Pos < 0 {
		c.Pos = 0
	}
	if c.Pos < c.Top {
		c.Top = c.Pos
	}
	if c.Pos >= c.Top+c.Height {
		c.Top = c.Pos - c.Height + 1
	}
	if c.Top > max(c.Len-c.Height, 0) {
		c.Top = max(c.Len-c.Height, 0)
	}
	if c.Top < 0 {
		c.Top = 0
	}
}
